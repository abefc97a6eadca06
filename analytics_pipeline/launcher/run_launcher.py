"""WarmRunLauncher: Dagster's run launcher extension point, with runs forked from a warm parent.

Configured in dagster.yaml (`run_launcher: {module: analytics_pipeline.launcher, class:
WarmRunLauncher}`); without that block Dagster's DefaultRunLauncher is back. It runs in the
process that launches runs (the daemon's run queue), starts one warm parent per code location
(`warm_parent.py`) and asks it to fork each run. What it adds to the default:

- **Warm starts.** A run costs what it carries, not an interpreter start and the imports.
- **No stale code.** Before every launch the code location's files are fingerprinted
  (sizes and modification times); when they changed, the warm parent is replaced, so no run
  ever starts on code older than the files on disk. Runs already going are left alone.
- **A real liveness check.** Each run records its worker as (boot id, pid, start time); run
  monitoring's `check_run_worker_health` reads /proc and reports a dead worker (SIGKILL, the
  OOM killer, a daemon stopped with its process group) as FAILED at its next poll, so its pool
  slot is freed and `run_retries` takes over, instead of the run staying STARTED for its
  max runtime.
- **Clean cancel.** `terminate` sends SIGTERM, which the worker maps to Dagster's interrupt.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import IO, Any

from dagster import _check as check
from dagster._core.launcher import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

from analytics_pipeline.launcher.worker_identity import WorkerIdentity

WARM_PARENT_MODULE = "analytics_pipeline.launcher.warm_parent"
# The warm parent imports Dagster and the code location: a few seconds on a busy machine.
READY_TIMEOUT_S = 120


class WarmParentError(RuntimeError):
    pass


def code_fingerprint(roots: list[Path]) -> tuple:
    """(path, size, mtime) of every Python file under `roots`: changes with any edit."""
    return tuple(
        sorted(
            (str(path), stat.st_size, stat.st_mtime_ns)
            for root in roots
            for path in root.rglob("*.py")
            if (stat := path.stat())
        )
    )


def package_roots(module: str, working_directory: str | None) -> list[Path]:
    """The folder of `module`'s top-level package, found without importing it."""
    top = module.split(".", 1)[0]
    sys_path = list(sys.path)
    if working_directory:
        sys.path.insert(0, working_directory)
    try:
        spec = find_spec(top)
    finally:
        sys.path[:] = sys_path
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    return [Path(spec.origin).parent] if spec.origin else []


@dataclass
class WarmParent:
    """One running warm parent and the pipes of its protocol."""

    process: subprocess.Popen[str]
    fingerprint: tuple

    @classmethod
    def start(cls, executable: str, serialized_origin: str, fingerprint: tuple) -> WarmParent:
        process = subprocess.Popen(
            [executable, "-m", WARM_PARENT_MODULE, serialized_origin],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        parent = cls(process, fingerprint)
        ready = parent._read_answer(READY_TIMEOUT_S)
        if "ready" not in ready:
            parent.stop()
            raise WarmParentError(f"the warm parent did not start: {ready}")
        return parent

    def alive(self) -> bool:
        return self.process.poll() is None

    def fork_run(self, request: Mapping[str, Any]) -> int:
        stdin = check.not_none(self.process.stdin)
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        answer = self._read_answer(READY_TIMEOUT_S)
        if "pid" not in answer:
            raise WarmParentError(f"the warm parent could not fork the run: {answer}")
        return int(answer["pid"])

    def _read_answer(self, timeout_s: float) -> dict[str, Any]:
        stdout: IO[str] = check.not_none(self.process.stdout)
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not answer or not answer[0]:
            code = self.process.poll()
            self.stop()
            what = "did not answer" if code is None else f"exited with code {code}"
            raise WarmParentError(
                f"the warm parent {what} within {timeout_s:.0f} s; its output is in the "
                "daemon's log"
            )
        return json.loads(answer[0])

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()  # end of input: the parent exits, its runs go on
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run as a fork of a warm parent that has the code location loaded."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        self._parents: dict[str, WarmParent] = {}
        self._lock = threading.Lock()
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> WarmRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def _parent_for(self, run: DagsterRun) -> WarmParent:
        origin = check.not_none(run.job_code_origin).repository_origin
        pointer = origin.code_pointer
        module = getattr(pointer, "module", None) or getattr(pointer, "python_file", "")
        roots = package_roots(module, pointer.working_directory) if module else []
        fingerprint = code_fingerprint(roots)
        serialized = serialize_value(origin)
        key = f"{origin.executable_path} {serialized}"
        parent = self._parents.get(key)
        if parent and parent.alive() and parent.fingerprint == fingerprint:
            return parent
        if parent:
            parent.stop()  # the code changed, or the parent died: never fork stale code
        self._parents[key] = parent = WarmParent.start(
            origin.executable_path, serialized, fingerprint
        )
        return parent

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        request = {"run_id": run.run_id, "instance_ref": serialize_value(self._instance.get_ref())}
        with self._lock:
            parent = self._parent_for(run)
            try:
                parent.fork_run(request)
            except WarmParentError:
                # A parent that died between runs is replaced once; a second failure is real.
                parent = self._parent_for(run)
                parent.fork_run(request)

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        worker = WorkerIdentity.from_tags(run.tags)
        if worker is None or not worker.on_this_machine() or not worker.alive():
            return False
        self._instance.report_run_canceling(run)
        os.kill(worker.pid, signal.SIGTERM)  # Dagster's interrupt in the worker: a clean cancel
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        worker = WorkerIdentity.from_tags(run.tags)
        if worker is None:
            # Not launched by this launcher (or not yet tagged): nothing to judge it by.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no worker recorded")
        if not worker.on_this_machine():
            return CheckRunHealthResult(WorkerStatus.RUNNING, "worker on another machine")
        if worker.alive():
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"its run worker (pid {worker.pid}) is gone: killed, or stopped with its daemon",
        )

    def dispose(self) -> None:
        with self._lock:
            for parent in self._parents.values():
                parent.stop()
            self._parents.clear()
