"""The warm parent: imports Dagster and the code location once, then forks one child per run.

A run started by Dagster's default launcher is a fresh interpreter that imports Dagster and the
code location again (about 2 CPU-seconds here) before it does any work. This process pays that
once: WarmRunLauncher starts it with the code location's origin, it preloads the repository,
and each run is an `os.fork()` of it that goes straight to Dagster's own run body
(`dagster._cli.api._execute_run_command_body`, what `dagster api execute_run` runs).

Fork safety: nothing here starts a thread or opens a connection before forking (the code
location must not do either at import time); every child opens its own instance.

Protocol (WarmRunLauncher is the only client): one JSON request per line on stdin,
`{"run_id": ..., "instance_ref": <serialized InstanceRef>}`, one JSON answer per line on
stdout, `{"pid": ...}` or `{"error": ...}`; the first line out is `{"ready": pid}` once the
preload is done. End of input ends the parent; its running children go on.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
import traceback
from typing import IO

from analytics_pipeline.launcher.worker_identity import WorkerIdentity

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """SIGTERM when the launcher's process goes: no warm parent outlives its daemon."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _preload(serialized_origin: str) -> None:
    """Import the code location and build its repository, as every run would."""
    from dagster._cli import api  # noqa: F401  (the run body and everything it imports)
    from dagster._serdes import deserialize_value
    from dagster._utils.hosted_user_process import recon_repository_from_origin

    origin = deserialize_value(serialized_origin)
    os.chdir(origin.code_pointer.working_directory or os.getcwd())
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    repository = recon_repository_from_origin(origin).get_definition()
    for job in repository.get_all_jobs():
        job.get_job_snapshot()  # the snapshot every run's execution plan is checked against


def run_in_child(run_id: str, serialized_instance_ref: str) -> int:
    """The run, in the forked child: Dagster's own run body, on its own instance (whose
    storages pool their connections when dagster.yaml says so: pooled_storage.py)."""
    from dagster import DagsterInstance
    from dagster._cli.api import _execute_run_command_body
    from dagster._serdes import deserialize_value
    from dagster._utils.interrupts import capture_interrupts, setup_interrupt_handlers

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the run may wait for its own subprocesses
    signal.signal(signal.SIGINT, signal.default_int_handler)
    setup_interrupt_handlers()  # SIGTERM acts as SIGINT: Dagster's interrupt, a clean cancel
    ref = deserialize_value(serialized_instance_ref)
    with capture_interrupts(), DagsterInstance.from_ref(ref) as instance:
        # Before the run is STARTED, so run monitoring always finds who runs it.
        instance.add_run_tags(run_id, WorkerIdentity.of(os.getpid()).tags())
        return _execute_run_command_body(
            run_id, instance, write_stream_fn=lambda _event: None, set_exit_code_on_failure=True
        )


def _fork_run(request: dict, requests: IO[str], answers: IO[str]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        requests.close()
        answers.close()
        code = run_in_child(request["run_id"], request["instance_ref"])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap_children(_signum: int, _frame: object) -> None:
    """Wait for every run that ended. The launcher follows runs through /proc (a zombie counts
    as gone), so this only settles their accounts: a waited-for child's CPU time adds to this
    process's children times, where `make test-profile` and `time` find it. Ignoring SIGCHLD
    instead lets the kernel reap them and drop their CPU time from every parent's total."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return


def serve(requests: IO[str], answers: IO[str]) -> None:
    signal.signal(signal.SIGCHLD, _reap_children)
    for line in requests:
        try:
            answer = {"pid": _fork_run(json.loads(line), requests, answers)}
        except Exception as error:
            answer = {"error": f"{type(error).__name__}: {error}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main(argv: list[str]) -> None:
    # The protocol keeps its own copies of stdin and stdout; the standard streams the preloaded
    # code and the runs print to are /dev/null and the launcher's stderr (the daemon's log).
    requests = os.fdopen(os.dup(0), "r")
    answers = os.fdopen(os.dup(1), "w")
    with open(os.devnull, "rb") as devnull:
        os.dup2(devnull.fileno(), 0)
    os.dup2(2, 1)
    _die_with_parent()
    started = time.monotonic()
    _preload(argv[1])
    answers.write(json.dumps({"ready": os.getpid(), "preload_s": time.monotonic() - started}))
    answers.write("\n")
    answers.flush()
    serve(requests, answers)


if __name__ == "__main__":
    main(sys.argv)
