"""The Kafka broker, then PostgreSQL (the Dagster instance and the lake catalog), stopped and
started again while the daemon ingests: runs fail or wait with a clear message and resume, the
daemon and its sensors recover, and every message is stored exactly once.

These stop services of the shared local stack (devstack/kafka.sh, devstack/postgres.sh) for a
few seconds, so they are marked slow and keep each outage short, and `serial`: `make test` runs
them after the parallel part, alone, since an outage would fail whatever else was running.
"""

from __future__ import annotations

import subprocess

import pytest

from analytics_pipeline_tests.faults.conftest import Pipeline, page_view
from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, wait_until


def devstack(script: str, action: str) -> str:
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "devstack" / script), action],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, f"{script} {action}: {result.stdout}{result.stderr}"
    return result.stdout + result.stderr


def wait_for_a_run(p: Pipeline) -> None:
    def running():
        assert p.daemon.alive(), p.daemon.log_tail()
        return any(p.worker_pid(r.run_id) for r in p.in_flight())

    wait_until(running, timeout=120, interval=0.2, message="no ingest run started")


def daemon_log(p: Pipeline) -> str:
    return p.daemon.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.timeout(480)
def test_a_broker_restart_mid_ingest_loses_and_duplicates_nothing(pipeline, produce):
    p = pipeline()
    produce(p.clickstream, [page_view(f"k{i}") for i in range(600)] + [b"[]"], partition=0)
    wait_for_a_run(p)
    devstack("kafka.sh", "stop")
    try:
        # The sensor's ticks fail naming the brokers, or the run in flight fails or waits.
        wait_until(
            lambda: (
                "Kafka at 127.0.0.1:9092 did not answer" in daemon_log(p)
                or any("Kafka" in m or "broker" in m for m in p.failure_messages())
            ),
            timeout=90,
            interval=1,
            message="nothing reported the broker outage",
        )
    finally:
        devstack("kafka.sh", "start")
    produce(p.clickstream, [page_view(f"after{i}") for i in range(200)], partition=0)

    stored = p.wait_ledger(801, timeout=240)
    p.wait_settled(timeout=120)
    assert (stored.rows, stored.distinct_event_ids) == (800, 800)
    assert (stored.dead_letters, stored.distinct_dead_offsets) == (1, 1)
    print("FAULTS broker restart: 1 outage, 801 messages, 0 lost, 0 duplicated")


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.timeout(480)
def test_a_postgresql_restart_leaves_no_range_ingested_twice_or_skipped(pipeline, produce, lake):
    p = pipeline()
    produce(p.clickstream, [page_view(f"g{i}") for i in range(600)] + [b"[]"], partition=0)
    wait_for_a_run(p)
    devstack("postgres.sh", "stop")
    try:
        wait_until(
            lambda: "OperationalError" in daemon_log(p) or "could not connect" in daemon_log(p),
            timeout=90,
            interval=1,
            message="the daemon did not notice PostgreSQL going away",
        )
    finally:
        devstack("postgres.sh", "start")
    produce(p.clickstream, [page_view(f"after{i}") for i in range(200)], partition=0)

    stored = p.wait_ledger(801, timeout=300)
    p.wait_settled(timeout=120)
    assert p.daemon.alive(), p.daemon.log_tail()
    assert (stored.rows, stored.distinct_event_ids) == (800, 800)
    assert (stored.dead_letters, stored.distinct_dead_offsets) == (1, 1)
    failures = "\n".join(p.failure_messages())
    # The dev password equals the user name, so look for it the way a leak would show it.
    assert f"password={lake.password}" not in failures.replace(" ", "")
    print("FAULTS postgres restart: 1 outage, 801 messages, 0 lost, 0 duplicated")
