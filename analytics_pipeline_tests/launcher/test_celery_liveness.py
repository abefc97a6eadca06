"""The Celery liveness check against a real Redis broker and the test's PostgreSQL instance: a
started run whose recorded worker never answers is reported FAILED once the silence outlasts
`worker_silence_seconds`, and several runs of one dead worker cost one question per poll."""

from __future__ import annotations

import time
import uuid

import dagster as dg
from dagster._core.events import EngineEventData
from dagster._core.launcher import WorkerStatus

from analytics_pipeline.launcher.celery_launcher import (
    RUN_WORKER_MESSAGE,
    CeleryRunWorker,
    LiveCeleryRunLauncher,
)
from analytics_pipeline.launcher.worker_identity import WorkerIdentity
from analytics_pipeline_tests.fixtures.stack import wait_until

INSPECT_TIMEOUT_S = 1


def started_run_on(instance: dg.DagsterInstance, nodename: str) -> dg.DagsterRun:
    """A STARTED run whose worker recorded itself, as celery_worker.record_worker does."""
    run = instance.add_run(
        dg.DagsterRun(
            job_name="liveness_probe", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED
        )
    )
    worker = CeleryRunWorker(nodename, str(uuid.uuid4()), WorkerIdentity("boot", 999_999, 1))
    instance.report_engine_event(
        f"{RUN_WORKER_MESSAGE} {nodename}", run, EngineEventData(worker.metadata())
    )
    return run


def test_runs_of_a_worker_that_never_answers_fail_after_the_silence(dagster_instance, redis_server):
    launcher = LiveCeleryRunLauncher(
        worker_silence_seconds=2,
        inspect_timeout_seconds=INSPECT_TIMEOUT_S,
        default_queue="dagster",
        broker=redis_server.url(0),
        backend=redis_server.url(1),
    )
    launcher.register_instance(dagster_instance)
    runs = [started_run_on(dagster_instance, "gone@nowhere") for _ in range(3)]

    started = time.monotonic()
    first = [launcher.check_run_worker_health(run) for run in runs]
    asked_for = time.monotonic() - started
    assert [r.status for r in first] == [WorkerStatus.RUNNING] * 3  # a silence is forgiven...
    assert asked_for < 2 * INSPECT_TIMEOUT_S + 1  # ...and the dead worker was asked once

    def all_failed() -> list | None:
        results = [launcher.check_run_worker_health(run) for run in runs]
        return results if all(r.status == WorkerStatus.FAILED for r in results) else None

    later = wait_until(all_failed, timeout=15, interval=0.5, message="runs not failed")
    failed_after = time.monotonic() - started
    assert 2 <= failed_after <= 2 + 3 * INSPECT_TIMEOUT_S + 2, failed_after
    assert all("gone@nowhere" in r.msg and "has not confirmed" in r.msg for r in later)


def test_a_run_without_a_recorded_worker_is_not_failed(dagster_instance, redis_server):
    launcher = LiveCeleryRunLauncher(
        default_queue="dagster", broker=redis_server.url(0), backend=redis_server.url(1)
    )
    launcher.register_instance(dagster_instance)
    run = dagster_instance.add_run(
        dg.DagsterRun(
            job_name="liveness_probe", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED
        )
    )
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
