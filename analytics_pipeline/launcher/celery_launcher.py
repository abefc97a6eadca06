"""Runs on a pool of Celery workers, with a liveness check that notices a dead worker.

`dagster-celery`'s `CeleryRunLauncher` sends each run as a Celery task to a long-lived worker on
any host (deploy/dagster.celery.yaml; the workers are `celery -A
analytics_pipeline.launcher.celery_worker worker`). Its `check_run_worker_health` only reads
the task's state from the result backend, and a worker that is SIGKILLed, loses its host or is
cut off from the broker never writes another state: the task stays STARTED, the run STARTED,
and its pool slot held until the run's max runtime.

This subclass asks the worker itself. Before a run starts, its worker records who runs it in
the run's event log (an engine event: Celery node name, task id, host boot id, pid and start
time; `celery_worker.py`). At every run-monitoring poll the launcher asks that worker, through
the broker, whether it still holds that task (`inspect().query_task`, one round trip to one
worker). A worker that does not answer, or answers without the task (a worker restarted under
the same name), is a miss; once a run has missed for `worker_silence_seconds` it is reported
FAILED, run monitoring fails the run, and `run_retries` launches it again.

Why an event and not run tags: tags are rewritten whole (read, merge, write) by whoever adds
one, and the launcher's task-id tag, the worker's tags and the run's start race each other;
a retry also inherits its parent's tags, worker and task id included. The event log only
grows, and a retry's log starts empty.

Bound: a dead worker's run ends FAILURE within `worker_silence_seconds` + 2 x run monitoring's
`poll_interval_seconds` + `inspect_timeout_seconds` of the death (10 + 2 x 5 + 2 = 22 s with
the shipped settings). A shorter silence (a busy moment, a broker blip) is forgiven.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from dagster import DagsterEventType, DagsterInstance, Field, IntSource
from dagster._core.instance.config import dagster_instance_config
from dagster._core.launcher import CheckRunHealthResult, RunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClassData
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

from analytics_pipeline.launcher.worker_identity import WorkerIdentity

RUN_WORKER_MESSAGE = "Run worker started on Celery worker"
DEFAULT_WORKER_SILENCE_S = 10
DEFAULT_INSPECT_TIMEOUT_S = 2
# The worker's event comes right after the launcher's two; a few more leave room.
_FIRST_ENGINE_EVENTS = 20
_REMEMBERED_WORKERS = 1000  # runs whose worker is kept in memory (the recent ones)
_SILENT_WORKER_MEMORY_S = 3  # under run monitoring's 5 s poll: asked again at the next one


@dataclass(frozen=True)
class CeleryRunWorker:
    """Who runs a run: the Celery worker (node name), its task, and the pool process."""

    nodename: str
    task_id: str
    process: WorkerIdentity

    def metadata(self) -> dict[str, str]:
        return {
            "celery_worker": self.nodename,
            "celery_task_id": self.task_id,
            **self.process.tags(),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> CeleryRunWorker | None:
        values = {key: getattr(value, "value", value) for key, value in metadata.items()}
        process = WorkerIdentity.from_tags({k: str(v) for k, v in values.items()})
        if process is None or not values.get("celery_worker") or not values.get("celery_task_id"):
            return None
        return cls(str(values["celery_worker"]), str(values["celery_task_id"]), process)


def recorded_run_worker(instance: DagsterInstance, run_id: str) -> CeleryRunWorker | None:
    """The worker that recorded itself in the run's event log, if one has yet."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=_FIRST_ENGINE_EVENTS
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event and (event.message or "").startswith(RUN_WORKER_MESSAGE):
            return CeleryRunWorker.from_metadata(event.engine_event_data.metadata)
    return None


class LiveCeleryRunLauncher(CeleryRunLauncher):
    """`CeleryRunLauncher` whose health check asks the run's worker whether it still runs it."""

    def __init__(
        self,
        worker_silence_seconds: int = DEFAULT_WORKER_SILENCE_S,
        inspect_timeout_seconds: int = DEFAULT_INSPECT_TIMEOUT_S,
        inst_data: ConfigurableClassData | None = None,
        **celery_config: Any,
    ) -> None:
        super().__init__(inst_data=inst_data, **celery_config)
        self.worker_silence_seconds = worker_silence_seconds
        self.inspect_timeout_seconds = inspect_timeout_seconds
        self._workers: dict[str, CeleryRunWorker] = {}  # run id -> its worker, once recorded
        self._first_miss: dict[str, float] = {}  # run id -> when its worker first failed us
        self._last_unanswered: dict[str, float] = {}  # node name -> when it last did not answer
        self._silent_since: dict[str, float] = {}  # node name -> since when it has not answered
        self._lock = threading.Lock()

    @classmethod
    def config_type(cls) -> dict:
        return {
            **super().config_type(),
            "worker_silence_seconds": Field(
                IntSource,
                is_required=False,
                default_value=DEFAULT_WORKER_SILENCE_S,
                description="How long a started run's worker may fail to confirm that it still "
                "runs it before the run is reported failed.",
            ),
            "inspect_timeout_seconds": Field(
                IntSource,
                is_required=False,
                default_value=DEFAULT_INSPECT_TIMEOUT_S,
                description="How long one question to a worker waits for its answer.",
            ),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> LiveCeleryRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def run_worker(self, run_id: str) -> CeleryRunWorker | None:
        with self._lock:
            worker = self._workers.get(run_id)
        if worker is None:
            worker = recorded_run_worker(self._instance, run_id)
            if worker is not None:
                with self._lock:
                    self._workers[run_id] = worker
                    while len(self._workers) > _REMEMBERED_WORKERS:  # oldest first
                        del self._workers[next(iter(self._workers))]
        return worker

    def worker_holds_task(self, worker: CeleryRunWorker) -> bool:
        """Whether the worker answers and holds the run's task (running or reserved).

        A worker that did not answer is not asked again for a few seconds: when a worker with
        several runs dies, one monitoring poll waits for it once, not once per run."""
        node = worker.nodename
        with self._lock:
            asked = self._last_unanswered.get(node)
        if asked is not None and time.monotonic() - asked < _SILENT_WORKER_MEMORY_S:
            return False
        inspector = self.celery.control.inspect(
            destination=[node], timeout=self.inspect_timeout_seconds
        )
        answers = inspector.query_task(worker.task_id) or {}
        now = time.monotonic()
        with self._lock:
            if node in answers:
                self._last_unanswered.pop(node, None)
                self._silent_since.pop(node, None)
            else:
                self._last_unanswered[node] = now
                self._silent_since.setdefault(node, now)
        return worker.task_id in (answers.get(node) or {})

    def _task_state(self, task_id: str) -> CheckRunHealthResult | None:
        """SUCCESS or FAILED when the result backend says the task ended, else None."""
        state = self.celery.AsyncResult(task_id).state
        if state == "SUCCESS":
            return CheckRunHealthResult(WorkerStatus.SUCCESS)
        if state == "FAILURE":
            return CheckRunHealthResult(WorkerStatus.FAILED, "Celery task failed.")
        return None

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        worker = self.run_worker(run.run_id)
        if worker is None:
            # A started run has its worker's record (written before the run starts); without
            # one it was not started by a worker of ours, and there is nothing to ask.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no Celery worker recorded")
        ended = self._task_state(worker.task_id)
        if ended is None and self.worker_holds_task(worker):
            self._forget(run.run_id)
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        # The task may have ended between the two looks: its state then says so.
        ended = ended or self._task_state(worker.task_id)
        if ended is not None:
            self._forget(run.run_id)
            return ended
        silent_for = self._silent_for(run.run_id, worker.nodename)
        if silent_for < self.worker_silence_seconds:
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, f"worker {worker.nodename} silent for {silent_for:.0f} s"
            )
        self._forget(run.run_id)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"its Celery worker {worker.nodename} (pid {worker.process.pid}) has not confirmed "
            f"it runs this run for {silent_for:.0f} s: the worker died, was restarted or is cut "
            "off from the broker",
        )

    def terminate(self, run_id: str) -> bool:
        """Revoke the task the run's worker recorded (a retry inherits its parent's task-id
        tag, so the tag alone may name the parent's task)."""
        worker = self.run_worker(run_id)
        run = self._instance.get_run_by_id(run_id)
        if run is None or (worker is None and DAGSTER_CELERY_TASK_ID_TAG not in run.tags):
            return False
        task_id = worker.task_id if worker else run.tags[DAGSTER_CELERY_TASK_ID_TAG]
        self._instance.report_run_canceling(run)
        self.celery.AsyncResult(task_id).revoke(terminate=True)
        return True

    def get_run_worker_debug_info(
        self, run: DagsterRun, include_container_logs: bool | None = True
    ) -> str | None:
        worker = self.run_worker(run.run_id)
        if worker is None:
            return super().get_run_worker_debug_info(run, include_container_logs)
        state = self.celery.AsyncResult(worker.task_id).state
        return str({"run_id": run.run_id, "task_state": state, **worker.metadata()})

    def _silent_for(self, run_id: str, node: str) -> float:
        """Since the run's first miss, or since its worker stopped answering if earlier: every
        run of a dead worker fails at the same poll."""
        now = time.monotonic()
        with self._lock:
            # Runs that ended elsewhere leave no entry behind for long.
            for stale in [r for r, t in self._first_miss.items() if now - t > 3600]:
                del self._first_miss[stale]
                self._workers.pop(stale, None)
            first_miss = self._first_miss.setdefault(run_id, now)
            return now - min(first_miss, self._silent_since.get(node, now))

    def _forget(self, run_id: str) -> None:
        with self._lock:
            self._first_miss.pop(run_id, None)


def instance_run_launcher(dagster_home: str | None = None) -> CeleryRunLauncher:
    """The Celery run launcher configured in the instance's dagster.yaml, built alone."""
    home = dagster_home or os.environ.get("DAGSTER_HOME")
    if not home:
        raise RuntimeError(
            "DAGSTER_HOME is not set: a run worker needs the Dagster instance the daemon uses "
            "(a folder with deploy/dagster.celery.yaml as its dagster.yaml)"
        )
    config, _ = dagster_instance_config(home)
    block = config.get("run_launcher")
    if not block:
        raise RuntimeError(f"{home}/dagster.yaml has no run_launcher block; use a Celery one")
    data = ConfigurableClassData(
        block["module"], block["class"], yaml.safe_dump(block.get("config") or {})
    )
    launcher = data.rehydrate(as_type=RunLauncher)
    if not isinstance(launcher, CeleryRunLauncher):
        raise RuntimeError(
            f"the run launcher in {home}/dagster.yaml is {block['class']}, not a Celery one: "
            "runs would never reach this worker (see deploy/dagster.celery.yaml)"
        )
    return launcher
