"""Produce → sensor tick → queued run → rows in the lake, through a real dagster-daemon."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dagster import DagsterRunStatus, RunsFilter

from analytics_pipeline.warehouse import reading
from analytics_pipeline_tests.fixtures.stack import wait_until

TS = "2026-11-20T10:00:00Z"


def count_rows(lake, table: str) -> int:
    """Row count as a reader sees it while the runs write (0 before the table exists)."""
    with reading(lake) as conn:
        exists = conn.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE database_name = current_database() AND table_name = $table",
            {"table": table},
        ).fetchone()[0]
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if exists else 0


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_produced_events_reach_the_lake_through_the_daemon(
    topics, produce, dagster_daemon, dagster_instance, tmp_path, lake, lake_env
):
    clickstream, backend = topics
    warehouse = lake
    produce(
        clickstream,
        [
            {
                "event_id": f"c{i}",
                "type": "page_view",
                "ts": TS,
                "anonymous_id": "a",
                "page_url": "/",
            }
            for i in range(5)
        ]
        + [b"not json"],
        partition=0,
    )
    produce(
        backend,
        [
            {
                "event_id": "b1",
                "type": "api_request",
                "ts": TS,
                "user_id": "u1",
                "request": {
                    "method": "POST",
                    "path": "/auth/signup",
                    "status": 201,
                    "duration_ms": 5,
                },
            }
        ],
        partition=1,
    )
    started = datetime.now(UTC)
    daemon = dagster_daemon(
        {
            "ANALYTICS_CLICKSTREAM_TOPIC": clickstream,
            "ANALYTICS_BACKEND_TOPIC": backend,
            **lake_env,
            "ANALYTICS_REPORTS_DIR": str(tmp_path / "reports"),
            "SLACK_BOT_TOKEN": "",
        }
    )

    def ingest_runs_succeeded():
        assert daemon.alive(), daemon.log_tail()
        # This test's runs only: the session's instance also holds other tests' runs.
        runs = dagster_instance.get_runs(
            RunsFilter(tags={"analytics/ingest": "true"}, created_after=started)
        )
        failed = [r for r in runs if r.status == DagsterRunStatus.FAILURE]
        assert not failed, f"ingest run failed: {failed[0].run_id}"
        return [r for r in runs if r.status == DagsterRunStatus.SUCCESS]

    # At the end of a 3-worker suite on 2 cores one ingest run has taken over 2 minutes.
    runs = wait_until(ingest_runs_succeeded, timeout=300, interval=1, message="no ingest run")
    assert {run.tags["dagster/sensor_name"] for run in runs} == {"ingest_sensor"}
    # Bounds for a loaded machine (CI ran 3 test workers on 2 cores): a later run may be needed.
    assert wait_until(
        lambda: count_rows(warehouse, "raw_clickstream_events") == 5, timeout=120, interval=0.5
    )
    assert wait_until(lambda: count_rows(warehouse, "dead_letter_events") == 1, timeout=120)
    assert wait_until(
        lambda: count_rows(warehouse, "raw_backend_events") == 1,
        timeout=120,
        interval=0.5,
        message="backend event not ingested",
    )
