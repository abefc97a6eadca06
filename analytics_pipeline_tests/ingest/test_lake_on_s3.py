"""The lake with its data files on S3 (a real SeaweedFS server, fixtures/s3.py): ingest, journeys,
upkeep and the readers work on it; a wrong key, a missing bucket, an endpoint that does not
answer and a server that goes away mid-ingest fail clearly, never showing a secret, and a rerun
stores everything exactly once."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import dagster as dg
import pytest

from analytics_pipeline.dashboard.queries.health import ingest_ledger
from analytics_pipeline.defs.journeys.assets import journeys
from analytics_pipeline.defs.maintenance.assets import lake_files
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.warehouse import Lake, LakeStorageError, connect, reading
from analytics_pipeline_tests.fixtures.s3 import S3Server, s3_environment
from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, wait_until
from analytics_pipeline_tests.fixtures.warehouse import warehouse_resource
from analytics_pipeline_tests.ingest.test_ingest import page_view, signup

CLI = REPO_ROOT / ".venv" / "bin" / "analytics-pipeline"


@pytest.fixture
def lake(s3_lake: Lake) -> Lake:
    """Every fixture of the ingest suite (warehouse, ingest, ...) on the S3 lake."""
    return s3_lake


def files_per_table(lake: Lake) -> dict[str, int]:
    """Data files of each table with any (ducklake_table_info)."""
    with reading(lake) as conn:
        rows = conn.execute(
            "SELECT table_name, file_count FROM ducklake_table_info(current_database()) "
            "WHERE file_count > 0"
        ).fetchall()
    return {str(name): int(count) for name, count in rows}


def catalog_files(lake: Lake) -> list[str]:
    """Every data and delete file the lake's current snapshot lists, as full paths."""
    with reading(lake) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()
        ]
        files: list[str] = []
        for table in tables:
            for data, delete in conn.execute(
                "SELECT data_file, delete_file FROM ducklake_list_files(current_database(), $t)",
                {"t": table},
            ).fetchall():
                files += [path for path in (data, delete) if path]
    return files


def sql_cli(lake: Lake, query: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`analytics-pipeline sql` as a user runs it, configured by the environment only."""
    environment = {**os.environ, **s3_environment(lake), **env}
    return subprocess.run(
        [str(CLI), "sql", "--format", "csv", query],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ingest_journeys_upkeep_and_sql_work_with_the_lake_on_s3(
    topics, produce, ingest, lake, dagster_instance, tmp_path: Path
):
    clickstream, backend = topics
    produce(clickstream, [page_view(f"e{i}", anonymous_id=f"a{i % 7}") for i in range(600)], 0)
    produce(backend, [signup(f"s{i}", user_id=f"user-{i}") for i in range(30)], 0)

    stored = ingest("clickstream", max_batch=200)  # three transactions: three files per table
    assert stored["rows_added"] == 600
    assert ingest("backend")["rows_added"] == 30
    resources = {
        "warehouse": warehouse_resource(lake),
        "analytics": AnalyticsResource(background_niceness=0),
        "kafka": KafkaResource(clickstream_topic=clickstream, backend_topic=backend),
    }
    assert dg.materialize([journeys], instance=dagster_instance, resources=resources).success

    files = catalog_files(lake)
    assert files and all(path.startswith(lake.data_path) for path in files), files
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing landed locally

    files_before = files_per_table(lake)
    upkeep = dg.materialize([lake_files], instance=dagster_instance, resources=resources)
    assert upkeep.success
    [materialization] = upkeep.asset_materializations_for_node("lake_files")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    # The merge works on S3: each table that had several files has one. The lake's total may
    # not fall: the flush of inlined rows writes a first file for each small table (the
    # ledger's log, the watermarks, the versions, the stale marks).
    files_after = files_per_table(lake)
    assert metadata["files_merged"] > 0 and files_before["raw_clickstream_events"] == 3
    assert all(files_after[t] == 1 for t, count in files_before.items() if count > 1)
    assert all(path.startswith(lake.data_path) for path in catalog_files(lake))

    with reading(lake) as conn:  # the dashboard's reads
        assert conn.execute("SELECT count(*) FROM user_journeys").fetchone() == (30,)
        ledger = ingest_ledger(conn)
    offsets = dict(zip(ledger["topic"], ledger["next_offset"], strict=True))
    assert offsets == {clickstream: 600, backend: 30}

    answer = sql_cli(lake, "SELECT count(*) AS n FROM raw_clickstream_events")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["n", "600"]


def test_wrong_credentials_fail_naming_endpoint_and_bucket_never_the_secret(
    new_s3_lake, s3_server: S3Server, topics, produce, dagster_instance, kafka
):
    wrong = "WrongSecret-" + "x" * 20
    lake = new_s3_lake(access=s3_server.access(secret_access_key=wrong))

    with pytest.raises(LakeStorageError) as raised:
        connect(lake)
    message = str(raised.value)
    assert s3_server.endpoint in message and repr(s3_server.bucket) in message
    assert "refused the credentials" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert wrong not in message and (lake.password or "") not in message

    # A run: the failure says the same, and no event of the run shows the secret.
    clickstream, _ = topics
    produce(clickstream, [page_view("e1")], partition=0)
    from analytics_pipeline_tests.ingest.conftest import RAW_ASSETS

    result = dg.materialize(
        [RAW_ASSETS["clickstream"]],
        instance=dagster_instance,
        resources={
            "kafka": kafka,
            "warehouse": warehouse_resource(lake),
            "analytics": AnalyticsResource(background_niceness=0),
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "refused the credentials" in str(failure.step_failure_data.error)
    everything = "\n".join(str(r) for r in dagster_instance.all_logs(result.run_id))
    assert s3_server.endpoint in everything and wrong not in everything

    # The CLI reader, configured from the environment alone.
    answer = sql_cli(lake, "SELECT 1", AWS_SECRET_ACCESS_KEY=wrong)
    assert answer.returncode == 2
    assert s3_server.endpoint in answer.stderr and "refused the credentials" in answer.stderr
    assert wrong not in answer.stderr + answer.stdout


def test_a_missing_bucket_and_a_silent_endpoint_say_what_to_do(
    new_s3_lake, s3_server: S3Server, stack
):
    missing = new_s3_lake()
    missing = type(missing)(
        catalog=missing.catalog,
        data_path="s3://no-such-bucket/lake/",
        password=missing.password,
        metadata_schema=missing.metadata_schema,
        s3=missing.s3,
    )
    with pytest.raises(LakeStorageError, match="the bucket 'no-such-bucket' does not exist"):
        connect(missing)

    silent = new_s3_lake(access=s3_server.access(endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(LakeStorageError) as raised:
        connect(silent)
    assert "http://127.0.0.1:9" in str(raised.value)
    assert "does not answer" in str(raised.value) and "AWS_ENDPOINT_URL_S3" in str(raised.value)


def test_the_s3_server_stopping_mid_ingest_fails_the_run_and_a_rerun_stores_once(
    topics, produce, ingest, lake, s3_server: S3Server
):
    clickstream, _ = topics
    total = 3000
    produce(clickstream, [page_view(f"e{i}") for i in range(total)], partition=0)
    connect(lake).close()  # the schema exists before the run

    outcome: dict = {}
    run = threading.Thread(
        target=lambda: outcome.update(
            result=ingest("clickstream", [(0, 0, total)], max_batch=100, raise_on_error=False)
        ),
        daemon=True,
    )
    run.start()
    try:

        def committed() -> int:
            with reading(lake) as conn:
                row = conn.execute("SELECT count(*) FROM raw_clickstream_events").fetchone()
            return row[0] if row else 0

        wait_until(lambda: committed() > 0, timeout=60, message="no batch committed")
        s3_server.stop()
        run.join(timeout=120)
        assert not run.is_alive(), "the run did not end after the S3 server stopped"
    finally:
        if s3_server.process is None:
            s3_server.start()

    result = outcome["result"]
    assert not isinstance(result, dict) and not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = str(failure.step_failure_data.error)
    assert "cannot use the lake's data files" in error and s3_server.endpoint in error
    assert s3_server.secret_key not in error

    rerun = ingest("clickstream", [(0, 0, total)], max_batch=1000)
    assert isinstance(rerun, dict)
    with reading(lake) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT event_id), "
            "(SELECT max(next_offset) FROM ingest_offsets) FROM raw_clickstream_events"
        ).fetchone()
    assert row == (total, total, total)
