"""The local stack answers, and `make up` can be run again without disturbing it."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from kafka import KafkaConsumer, TopicPartition

from analytics_pipeline_tests.fixtures.stack import (
    REPO_ROOT,
    pg_query,
    run_up_script,
    stack_setting,
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
    started = time.time()
    wanted = {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"}

    def heartbeating() -> bool:
        # This daemon's beats only: the session instance keeps earlier daemons' last ones.
        assert daemon.alive(), f"dagster-daemon exited:\n{daemon.log_tail()}"
        beats = dagster_instance.get_daemon_heartbeats()
        return wanted <= {kind for kind, beat in beats.items() if beat.timestamp >= started}

    wait_until(heartbeating, timeout=60, interval=0.5, message=f"no heartbeat of all of {wanted}")
    daemon.stop()
    assert not daemon.alive()


# --- the lake's catalog database (make up) --------------------------------------------------


def lake_catalog_fields(catalog: str) -> dict[str, str]:
    """The key=value pairs of a `postgres:` DuckLake catalog string (unquoted values)."""
    assert catalog.startswith("postgres:"), catalog
    return dict(pair.split("=", 1) for pair in catalog.removeprefix("postgres:").split())


def lake_database_state(stack, catalog: str, password: str) -> tuple[int, str, str]:
    """(oid, owner, lc_messages) of the catalog database, seen by the catalog's own role."""
    import psycopg2

    fields = lake_catalog_fields(catalog)
    conn = psycopg2.connect(
        host=fields["host"],
        port=int(fields["port"]),
        user=fields["user"],
        password=password,
        dbname=fields["dbname"],
        connect_timeout=5,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT oid, pg_get_userbyid(datdba), current_setting('lc_messages') "
                "FROM pg_database WHERE datname = current_database()"
            )
            return cursor.fetchone()
    finally:
        conn.close()


def run_up_with(env: dict[str, str]) -> str:
    """Run devstack/up.sh with `env` over the environment; return its output."""
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "devstack" / "up.sh")],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    return result.stdout


def test_up_created_the_lake_catalog_database_owned_by_its_role_with_english_messages(stack):
    catalog = stack_setting("ANALYTICS_LAKE_CATALOG")
    _, owner, messages = lake_database_state(
        stack, catalog, stack_setting("ANALYTICS_LAKE_PASSWORD")
    )

    assert owner == lake_catalog_fields(catalog)["user"]
    assert messages in {"C", "POSIX"} or messages.startswith(("C.", "en")), messages
    data_path = Path(stack_setting("ANALYTICS_LAKE_DATA_PATH"))
    assert (data_path if data_path.is_absolute() else REPO_ROOT / data_path).is_dir()


def test_up_creates_a_new_catalog_database_once_and_a_second_up_keeps_it(stack, tmp_path):
    from psycopg2 import sql

    name = f"lake_up_test_{uuid.uuid4().hex[:8]}"
    server = f"host={stack.pg_host} port={stack.pg_port} user={stack.pg_user}"
    catalog = f"postgres:dbname={name} {server}"
    data_path = tmp_path / "lake" / "data"
    env = {
        "ANALYTICS_LAKE_CATALOG": catalog,
        "ANALYTICS_LAKE_PASSWORD": stack.pg_password,
        "ANALYTICS_LAKE_DATA_PATH": f"{data_path}/",
    }
    try:
        first = run_up_with(env)
        assert f"creating the lake catalog database {name}" in first
        oid, owner, messages = lake_database_state(stack, catalog, stack.pg_password)
        assert (owner, messages) == (stack.pg_user, "C")
        assert data_path.is_dir()
        pg_query(stack, name, "CREATE TABLE survivor (x int)")
        pg_query(stack, name, "INSERT INTO survivor VALUES (7)")

        second = run_up_with(env)

        assert f"lake catalog ready, database {name}" in second
        assert "creating the lake catalog" not in second
        assert lake_database_state(stack, catalog, stack.pg_password)[0] == oid
        assert pg_query(stack, name, "SELECT x FROM survivor") == [(7,)]
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        pg_query(stack, stack.pg_db, drop)
