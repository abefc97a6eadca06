"""The local stack answers, and `make up` can be run again without disturbing it."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest
from kafka import KafkaConsumer, TopicPartition

from analytics_pipeline_tests.fixtures.stack import (
    REPO_ROOT,
    pg_query,
    run_up_script,
    wait_until,
)

KAFKA_PID_FILE = REPO_ROOT / ".devstack" / "run" / "kafka.pid"


def broker_pid() -> str | None:
    """The pid of the broker this checkout started, if it started one (else another clone's)."""
    return KAFKA_PID_FILE.read_text().strip() if KAFKA_PID_FILE.exists() else None


def test_up_runs_again_quickly_and_keeps_the_same_broker(stack, kafka_admin):
    cluster_before = kafka_admin.describe_cluster()["cluster_id"]
    pid_before = broker_pid()

    started = time.monotonic()
    result = run_up_script()
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stdout
    assert elapsed < 20, f"a second up.sh took {elapsed:.1f}s:\n{result.stdout}"
    assert broker_pid() == pid_before
    assert kafka_admin.describe_cluster()["cluster_id"] == cluster_before
    assert "stack is up" in result.stdout
    assert str(REPO_ROOT / ".devstack" / "logs") in result.stdout


def test_kafka_round_trips_messages_on_a_new_topic(make_topic, produce, kafka_bootstrap):
    topic = make_topic(partitions=2)
    values = [{"event_id": "e1"}, "plain text", b"\xff raw bytes", None]

    placed = produce(topic, values, partition=1, key="user-1")

    assert placed == [(1, 0), (1, 1), (1, 2), (1, 3)]
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    try:
        partition = TopicPartition(topic, 1)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        received = []

        def all_received() -> bool:
            for records in consumer.poll(timeout_ms=500).values():
                received.extend(records)
            return len(received) >= len(values)

        wait_until(all_received, timeout=20, message="the 4 produced messages were not consumed")
    finally:
        consumer.close()
    assert [record.value for record in received] == [
        b'{"event_id": "e1"}',
        b"plain text",
        b"\xff raw bytes",
        None,
    ]
    assert {record.key for record in received} == {b"user-1"}


def test_new_topics_are_ready_and_distinct(new_topics, kafka_admin):
    clickstream, backend = new_topics(partitions=3)

    assert clickstream.endswith("-clickstream") and backend.endswith("-backend")
    described = {t["name"]: t for t in kafka_admin.describe_topics([clickstream, backend])}
    assert {name: len(t["partitions"]) for name, t in described.items()} == {
        clickstream: 3,
        backend: 3,
    }


def test_postgres_has_the_dagster_role_with_createdb_and_its_database(stack):
    rows = pg_query(
        stack,
        stack.pg_db,
        "SELECT current_user, current_database(), rolcreatedb "
        "FROM pg_roles WHERE rolname = current_user",
    )
    assert rows == [(stack.pg_user, stack.pg_db, True)]


@dg.asset
def devstack_probe() -> int:
    return 1


def test_dagster_test_instance_stores_runs_in_postgres(dagster_instance, dagster_home: Path):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    result = dg.materialize([devstack_probe], instance=dagster_instance)

    assert isinstance(dagster_instance.run_storage, PostgresRunStorage)
    assert isinstance(dagster_instance.event_log_storage, PostgresEventLogStorage)
    stored = dagster_instance.get_run_by_id(result.run_id)
    assert stored is not None and stored.status == dg.DagsterRunStatus.SUCCESS
    assert (dagster_home / "dagster.yaml").read_text() == (REPO_ROOT / "dagster.yaml").read_text()


def test_dagster_test_instance_uses_its_own_fresh_database(dagster_instance, stack):
    import os

    test_db = os.environ["DAGSTER_PG_DB"]
    assert test_db.startswith("dagster_test_") and test_db != stack.pg_db
    tables = {row[0] for row in pg_query(stack, test_db, "SELECT tablename FROM pg_tables")}
    assert {"runs", "event_logs"} <= tables


def test_wait_until_returns_the_value_or_fails_with_the_message():
    assert wait_until(lambda: 42, timeout=1) == 42
    with pytest.raises(AssertionError, match="never true"):
        wait_until(lambda: False, timeout=0.3, interval=0.05, message="never true")


def test_dagster_daemon_runs_on_the_test_instance_and_stops_at_teardown(
    dagster_daemon, dagster_instance
):
    daemon = dagster_daemon()

    def heartbeating() -> set[str]:
        assert daemon.alive(), f"dagster-daemon exited:\n{daemon.log_tail()}"
        return set(dagster_instance.get_daemon_heartbeats())

    kinds = wait_until(heartbeating, timeout=60, interval=0.5, message="no daemon heartbeat")
    assert {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"} <= kinds
    daemon.stop()
    assert not daemon.alive()
