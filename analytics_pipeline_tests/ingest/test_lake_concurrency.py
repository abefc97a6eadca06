"""The lake admits concurrent writers and readers: conflicts are retried, never applied twice,
and upkeep runs beside live ingest without losing anything."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from analytics_pipeline.ingest.loop import IngestReport, ingest_ranges
from analytics_pipeline.ingest.ranges import OffsetRange
from analytics_pipeline.warehouse import (
    Lake,
    LakeUnavailableError,
    connect,
    reading,
    retry_conflicts,
)
from analytics_pipeline.warehouse.maintenance import lake_files, maintain
from analytics_pipeline_tests.ingest.test_ingest import page_view


def consumer_for(kafka) -> object:
    return kafka.consumer()


def ingest_in_thread(
    kafka, lake: Lake, topic: str, ranges, max_batch: int, barrier: threading.Barrier | None
) -> tuple[threading.Thread, dict]:
    """Run `ingest_ranges` on its own connection and consumer; the dict gets the report,
    the warnings it logged, or the error."""
    outcome: dict = {"warnings": []}

    def work() -> None:
        consumer = kafka.consumer()
        conn = connect(lake)
        try:
            if barrier is not None:
                barrier.wait(timeout=30)
            outcome["report"] = ingest_ranges(
                consumer,
                conn,
                kind="clickstream",
                topic=topic,
                ranges=ranges,
                max_batch=max_batch,
                commit_offsets=False,
                warn=outcome["warnings"].append,
            )
        except BaseException as error:  # surfaced by the test
            outcome["error"] = error
        finally:
            conn.close()
            consumer.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, outcome


def counts(lake: Lake) -> tuple[int, int, int]:
    with reading(lake) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT event_id), "
            "(SELECT max(next_offset) FROM ingest_offsets) FROM raw_clickstream_events"
        ).fetchone()
    assert row is not None
    return row


def test_two_runs_of_the_same_offsets_at_once_store_each_message_once_and_log_the_retry(
    topics, produce, kafka, lake
):
    clickstream, _ = topics
    total = 20_000  # each transaction takes long enough for the two to overlap
    produce(clickstream, [page_view(f"e{i}") for i in range(total)], partition=0)
    connect(lake).close()  # the schema exists before the race
    barrier = threading.Barrier(2)
    ranges = [OffsetRange(0, 0, total)]
    runs = [ingest_in_thread(kafka, lake, clickstream, ranges, total, barrier) for _ in range(2)]
    for thread, _ in runs:
        thread.join(timeout=240)
    outcomes = [outcome for _, outcome in runs]
    assert not [o["error"] for o in outcomes if "error" in o]

    assert counts(lake) == (total, total, total)
    reports: list[IngestReport] = [o["report"] for o in outcomes]
    assert sorted(r.stored for r in reports) == [0, total]
    loser = next(o for o in outcomes if o["report"].stored == 0)
    assert loser["report"].conflicts_retried >= 1
    assert any("commit conflict" in w and "retrying" in w for w in loser["warnings"])
    with reading(lake) as conn:
        batches = conn.execute(
            "SELECT count(DISTINCT ingest_batch_id) FROM raw_clickstream_events"
        ).fetchone()
    assert batches == (1,)


def upkeep(conn):
    return retry_conflicts(
        lambda: maintain(conn, retention=timedelta(days=7), now=datetime.now(UTC)),
        what="maintaining the lake",
        conn=conn,
    )


def test_upkeep_during_live_ingest_loses_nothing_and_keeps_time_travel(
    topics, produce, kafka, lake
):
    clickstream, _ = topics
    # What costs is the commits (DuckLake transactions on the PostgreSQL catalog): 5 batches
    # of history leave small files to merge, then 10 live commits run beside the upkeep.
    total, history, batch = 1_500, 500, 100
    produce(clickstream, [page_view(f"e{i}") for i in range(total)], partition=0)
    # Some history first, so there are small files to merge.
    first, _ = ingest_in_thread(
        kafka, lake, clickstream, [OffsetRange(0, 0, history)], batch, barrier=None
    )
    first.join(timeout=240)
    with reading(lake) as conn:
        [(version, stored_then)] = conn.execute(
            "SELECT (SELECT max(snapshot_id) FROM ducklake_snapshots(current_database())), "
            "count(*) FROM raw_clickstream_events"
        ).fetchall()
    assert stored_then == history
    live, outcome = ingest_in_thread(
        kafka, lake, clickstream, [OffsetRange(0, history, total)], batch, barrier=None
    )
    conn = connect(lake)
    try:
        before = lake_files(conn)
        merged = rounds = 0
        while live.is_alive() or rounds == 0:
            merged += upkeep(conn).files_merged
            rounds += 1
        live.join(timeout=240)
        assert "error" not in outcome, outcome.get("error")
        merged += upkeep(conn).files_merged
        after = lake_files(conn)
        then = conn.execute(
            f"SELECT count(*) FROM raw_clickstream_events AT (VERSION => {int(version)})"
        ).fetchone()
    finally:
        conn.close()

    assert counts(lake) == (total, total, total)
    assert merged > 0
    assert after.data_files < before.data_files
    # one file per table that holds rows: raw data, keys, ledger, batch counter, schema_migrations
    assert after.data_files <= 5, after
    assert then == (history,), "a retained snapshot still reads as it was"


def test_an_unreachable_catalog_names_its_host_and_database_but_never_the_password(tmp_path):
    lake = Lake(
        catalog="postgres:dbname=analytics_lake host=127.0.0.1 port=1 user=dagster",
        data_path=str(tmp_path / "lake") + "/",
        password="s3cret-Pa55",
    )
    with pytest.raises(LakeUnavailableError) as failure:
        connect(lake)
    message = str(failure.value)
    assert "database 'analytics_lake' on 127.0.0.1:1" in message
    assert "s3cret-Pa55" not in message and "make up" in message
