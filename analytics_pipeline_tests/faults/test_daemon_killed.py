"""dagster-daemon killed with its whole process group while an ingest run works (a host losing
power, `kill -9` of a service's cgroup): the next daemon frees the run's pool slot at its first
monitoring poll (the run launcher's liveness check: the worker's pid and start time are gone),
not after the run's max runtime, and the next message is stored with nothing lost or doubled."""

from __future__ import annotations

import os
import signal
import time

import dagster as dg
import pytest

from analytics_pipeline.launcher.worker_identity import WorkerIdentity
from analytics_pipeline_tests.faults.conftest import page_view
from analytics_pipeline_tests.fixtures.stack import wait_until


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_a_daemon_killed_with_its_process_group_mid_run_leaves_no_run_holding_the_pool(
    pipeline, produce
):
    p = pipeline()
    produce(p.clickstream, [page_view("before")], partition=0)
    p.wait_ledger(1, timeout=180)

    def working_run() -> dg.DagsterRun | None:  # its live tail keeps it going after the store
        started = [r for r in p.in_flight() if r.status == dg.DagsterRunStatus.STARTED]
        return started[0] if started and WorkerIdentity.from_tags(started[0].tags) else None

    run = wait_until(working_run, timeout=60, interval=0.2, message="no ingest run in flight")
    worker = WorkerIdentity.from_tags(run.tags)
    os.killpg(p.daemon.pid, signal.SIGKILL)  # the daemon, its warm parent and the run worker
    p.daemon.process.wait(timeout=30)
    wait_until(lambda: not worker.alive(), timeout=30, interval=0.2, message="worker survived")
    assert p.instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED

    restarted = time.monotonic()
    p.daemon = pipeline().daemon
    produce(p.clickstream, [page_view("after")], partition=0)
    stored = p.wait_ledger(2, timeout=180)
    took = time.monotonic() - restarted
    assert (stored.rows, stored.distinct_event_ids) == (2, 2)
    dead = p.instance.get_run_by_id(run.run_id)
    assert dead.status == dg.DagsterRunStatus.FAILURE, dead.status
    messages = [
        record.dagster_event.message
        for record in p.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    ]
    assert any(f"pid {worker.pid}" in (m or "") for m in messages), messages
    print(f"FAULTS daemon SIGKILL mid-run: pool free and next message stored {took:.1f} s later")
