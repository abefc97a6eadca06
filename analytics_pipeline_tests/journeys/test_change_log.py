"""What is new for the journeys step comes from DuckLake's change log (warehouse/snapshots.py),
and only while the log still holds the watermark's snapshot: after upkeep expired it, the raw
tables are scanned instead, so no committed row is ever skipped."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics_pipeline.journeys.derive import RAW_TABLES, update_journeys
from analytics_pipeline.warehouse import transaction
from analytics_pipeline.warehouse.snapshots import inserted_since
from analytics_pipeline_tests.journeys.conftest import TOPICS
from analytics_pipeline_tests.journeys.raw_events import at, code_run, page_view, signup


def test_the_change_log_names_the_tables_with_new_rows_and_their_newest_snapshot(conn, raw):
    raw.add(page_view("a1", at("2026-03-01", 9)))
    clicks = raw.snapshot
    raw.add(signup("u1", at("2026-03-01", 10)))
    backend = raw.snapshot
    with transaction(conn):
        assert inserted_since(conn, 0, list(RAW_TABLES.values())) == {
            "raw_clickstream_events": clicks,
            "raw_backend_events": backend,
        }
        # above the clickstream's snapshot only the backend has new rows
        assert inserted_since(conn, clicks, list(RAW_TABLES.values())) == {
            "raw_backend_events": backend
        }
        assert inserted_since(conn, backend, list(RAW_TABLES.values())) == {}


def test_after_the_watermarks_snapshot_expired_the_tables_are_scanned(conn, raw):
    raw.add(signup("u1", at("2026-03-01", 10)))
    first = update_journeys(conn, **TOPICS)
    assert (first.watermark, first.raw_rows_read) == (raw.snapshot, 1)
    catalog = conn.execute("SELECT current_database()").fetchone()[0]
    conn.execute(
        "CALL ducklake_expire_snapshots($catalog, older_than => $now)",
        {"catalog": catalog, "now": datetime.now(UTC)},
    )
    raw.add(code_run("u1", at("2026-03-02")), page_view("a1", at("2026-03-02", 9)))
    with transaction(conn):
        assert inserted_since(conn, first.watermark, list(RAW_TABLES.values())) is None
    second = update_journeys(conn, **TOPICS)
    assert (second.watermark_before, second.watermark) == (first.watermark, raw.snapshot)
    assert second.raw_rows_read == 2
    assert conn.execute("SELECT count(*) FROM journey_events").fetchone() == (3,)
