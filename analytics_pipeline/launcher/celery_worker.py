"""The Celery app of a run worker: `celery -A analytics_pipeline.launcher.celery_worker worker`.

One source of settings: the app is built from the run launcher of the Dagster instance in
`$DAGSTER_HOME/dagster.yaml` (deploy/dagster.celery.yaml), so the worker listens on the broker
and writes to the result backend the daemon uses, with dagster-celery's own run task
(`execute_job`, which runs Dagster's run body in the worker's pool process). Only the launcher
is built here, never the instance's storages: the pool processes are forks of this one and
must not share its connections.

What this adds to dagster-celery's `dagster_celery.app`:

- **Who runs the run.** Before the run starts, the pool process records itself in the run's
  event log: the Celery node name and task id (which the launcher's liveness check asks
  about), and its boot id, pid and start time (celery_launcher.CeleryRunWorker).
- **Warm runs.** The code location is imported once here, before the pool forks, so a run
  does not pay the imports. Restart the workers to deploy new code, as with any Celery worker.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_prerun
from dagster import DagsterInstance
from dagster._core.events import EngineEventData
from dagster._serdes import unpack_value
from dagster_celery.config import TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

from analytics_pipeline.launcher.celery_launcher import (
    RUN_WORKER_MESSAGE,
    CeleryRunWorker,
    instance_run_launcher,
)
from analytics_pipeline.launcher.worker_identity import WorkerIdentity

CODE_LOCATION_MODULE = "analytics_pipeline.definitions"


def make_worker_app() -> Celery:
    celery_app = instance_run_launcher().celery
    create_execute_job_task(celery_app)
    create_resume_job_task(celery_app)
    return celery_app


_instance: DagsterInstance | None = None


def _pool_instance() -> DagsterInstance:
    """One instance per pool process, opened there (after the fork), for the worker tags."""
    global _instance
    if _instance is None:
        _instance = DagsterInstance.get()
    return _instance


@task_prerun.connect
def record_worker(
    task_id: str | None = None, task: Any = None, kwargs: dict | None = None, **_: Any
) -> None:
    """Record in the run's event log who runs it, before the run starts (so before STARTED)."""
    if task is None or task_id is None:
        return
    if task.name not in (TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME):
        return
    packed = (kwargs or {}).get("execute_job_args_packed") or (kwargs or {}).get(
        "resume_job_args_packed"
    )
    if packed is None:
        return
    instance = _pool_instance()
    run = instance.get_run_by_id(unpack_value(packed).run_id)
    if run is None:
        return  # the run body reports that itself
    worker = CeleryRunWorker(task.request.hostname, task_id, WorkerIdentity.of(os.getpid()))
    instance.report_engine_event(
        f"{RUN_WORKER_MESSAGE} {worker.nodename} (pid {worker.process.pid})",
        run,
        EngineEventData(worker.metadata()),
    )


def _preload_code_location() -> None:
    """Import Dagster's run body and the code location before the pool forks."""
    import importlib

    from dagster._cli import api  # noqa: F401  (the run body and what it imports)

    importlib.import_module(CODE_LOCATION_MODULE)


app = make_worker_app()
_preload_code_location()

__all__ = ["app", "make_worker_app"]
