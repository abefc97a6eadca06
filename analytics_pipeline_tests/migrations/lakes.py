"""Lakes at a given schema version, for the migration tests: one made as main made it before
the lake recorded its version (fixtures/lake_v1), and a "newer release" with a migration 0003
that adds a column and moves data into it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from analytics_pipeline.ingest.writer import BatchWriter, RawRecord, prepare_batch
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline.warehouse import Lake, transaction
from analytics_pipeline.warehouse.lake import _instance_conn, open_cursor
from analytics_pipeline.warehouse.migrations import FOLDER
from analytics_pipeline.warehouse.schema_version import load_migrations
from analytics_pipeline_tests.journeys.raw_events import (
    at,
    code_run,
    identify,
    is_clickstream,
    page_view,
    signup,
)

V1_SCHEMA = Path(__file__).parents[1] / "fixtures" / "lake_v1" / "schema_before_versions.sql"
TOPICS = {"clickstream_topic": "portal-clickstream", "backend_topic": "portal-backend"}

# The tables whose rows the tests compare before and after a migration (everything the
# pipeline writes, bar the key tables, which connect() may rebuild).
DATA_TABLES = (
    "raw_clickstream_events",
    "raw_backend_events",
    "ingest_offsets",
    "ingest_batch_counter",
    "pipeline_watermarks",
    "user_identities",
    "journey_events",
    "user_journeys",
    "user_meaningful_days",
    "alerts",
    "report_deliveries",
)
# Migration 0003 replaces the ledger table by a log and a view, drops the batch counter,
# moves the watermarks to snapshots and adds committed_snapshot to the journey_events view;
# every other table keeps its rows as they were (and the view its answers: QUERIES).
KEPT_BY_0003 = tuple(
    t
    for t in DATA_TABLES
    if t not in ("ingest_offsets", "ingest_batch_counter", "pipeline_watermarks", "journey_events")
)
LEDGER = "SELECT topic, kafka_partition, next_offset FROM ingest_offsets ORDER BY ALL"
# Raw rows the old release stored after its last journeys step (see make_lake_before_versions).
PENDING_RAW_ROWS = 1

_OLD_LEDGER = """
    MERGE INTO ingest_offsets AS o
    USING (SELECT $topic AS topic, $partition::INTEGER AS kafka_partition,
                  $next_offset::BIGINT AS next_offset) AS n
    ON o.topic = n.topic AND o.kafka_partition = n.kafka_partition
    WHEN MATCHED THEN UPDATE SET next_offset = n.next_offset, updated_at = now(),
        ingest_batch_id = $batch_id
    WHEN NOT MATCHED THEN INSERT (topic, kafka_partition, next_offset, updated_at, ingest_batch_id)
        VALUES (n.topic, n.kafka_partition, n.next_offset, now(), $batch_id)
"""


def store_as_before(conn: duckdb.DuckDBPyConnection, kind: str, topic: str, events) -> int:
    """Store `events` as one batch the way the releases before 0003 did: the rows through
    today's writer, then the ledger updated in place and the batch counter moved, in the
    batch's transaction; returns the batch id."""
    from datetime import UTC, datetime

    [(start,)] = conn.execute(
        "SELECT coalesce(max(next_offset), 0) FROM ingest_offsets WHERE topic = ?", [topic]
    ).fetchall()
    records = [RawRecord(0, start + n, json.dumps(e).encode()) for n, e in enumerate(events)]
    batch = prepare_batch(kind=kind, topic=topic, records=records, ledger={0: start})  # type: ignore[arg-type]
    writer = BatchWriter(conn, batch.kind, datetime.now(UTC))
    writer.add(batch)
    batch_id = writer._params["batch_id"]  # type: ignore[index]
    conn.execute(
        _OLD_LEDGER,
        {"topic": topic, "partition": 0, "next_offset": start + len(events), "batch_id": batch_id},
    )
    conn.execute("UPDATE ingest_batch_counter SET last_batch_id = $id", {"id": batch_id})
    conn.execute("COMMIT")
    return int(batch_id)  # type: ignore[arg-type]


def make_lake_before_versions(lake: Lake) -> None:
    """Create `lake` with the schema main had before versions, then fill it through the real
    writers of ingest and journeys, plus an alert and a report delivery."""
    conn = open_cursor(lake)  # not connect(): that would migrate the lake
    try:
        with transaction(conn):
            conn.execute(V1_SCHEMA.read_text(encoding="utf-8"))
        events = [
            page_view("a1", at("2026-03-01", 9)),
            identify("a1", "u1", at("2026-03-01", 10)),
            signup("u1", at("2026-03-01", 10, 5)),
            code_run("u1", at("2026-03-02", 11)),
            page_view("a2", at("2026-03-02", 12)),
        ]
        for kind, topic in (
            ("clickstream", TOPICS["clickstream_topic"]),
            ("backend", TOPICS["backend_topic"]),
        ):
            mine = [e for e in events if is_clickstream(e) == (kind == "clickstream")]
            last = store_as_before(conn, kind, topic, mine)
        update_journeys(conn, **TOPICS)
        # ... as that release recorded it: the watermark "journeys" a batch id, and so the mark
        for sql in (
            "UPDATE pipeline_watermarks SET name = 'journeys', value = $id",
            "UPDATE funnel_stale_marks SET ingest_batch_id = $id",
        ):
            conn.execute(sql, {"id": last})
        # a batch stored after that release's last journeys step
        store_as_before(
            conn, "clickstream", TOPICS["clickstream_topic"], [page_view("a3", at("2026-03-03"))]
        )
        add_alert(conn, "new_signup:u1", channel="C-signups")
        conn.execute(
            "INSERT INTO report_deliveries (day, stage, status, delivered_at) "
            "VALUES ('2026-03-02', 'activated', 'sent', now())"
        )
    finally:
        conn.close()


def add_alert(conn: duckdb.DuckDBPyConnection, key: str, channel: str) -> None:
    conn.execute(
        "INSERT INTO alerts (alert_key, rule, user_id, event_ts, status, created_at, details) "
        "VALUES (?, 'new_signup', 'u1', now(), 'sent', now(), ?)",
        [key, json.dumps({"channel": channel})],
    )


def contents(conn: duckdb.DuckDBPyConnection, tables: tuple[str, ...] = DATA_TABLES) -> dict:
    """Every row of `tables`, sorted, as text (comparable across connections)."""
    return {
        table: sorted(map(str, conn.execute(f"SELECT * FROM {table}").fetchall()))
        for table in tables
    }


def shape(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every table and view of the lake with its columns (name, type, nullable)."""
    names = [row[0] for row in conn.execute("SHOW TABLES").fetchall()]
    return {name: conn.execute(f'DESCRIBE "{name}"').fetchall() for name in names}


# This release's migrations, and the number a newer release's next one would take.
SHIPPED_VERSIONS = [(m.version, m.name) for m in load_migrations()]
LATEST, LATEST_NAME = SHIPPED_VERSIONS[-1]
NEWER = LATEST + 1
NEWER_NAME = f"{NEWER:04d}_alert_channel"

NEWER_SQL = """\
ALTER TABLE alerts ADD COLUMN channel_name VARCHAR;
CREATE TABLE alert_channel_moves (alert_key VARCHAR NOT NULL, channel_name VARCHAR);
"""
NEWER_CODE = """\
def migrate(conn):
    conn.execute("UPDATE alerts SET channel_name = json_extract_string(details, '$.channel')")
    conn.execute("INSERT INTO alert_channel_moves SELECT alert_key, channel_name FROM alerts")
"""


def newer_release(folder: Path, code: str = NEWER_CODE) -> Path:
    """A migrations folder of a release after this one: this release's migrations, then
    NEWER_NAME (a new column, a new table, and a data move into both)."""
    folder.mkdir(parents=True)
    for path in FOLDER.iterdir():
        if path.suffix in (".sql", ".py") and path.name[0].isdigit():
            shutil.copy(path, folder / path.name)
    (folder / f"{NEWER_NAME}.sql").write_text(NEWER_SQL)
    (folder / f"{NEWER_NAME}.py").write_text(code)
    return folder


def catalog_queries(work: Callable[[], object]) -> int:
    """The PostgreSQL queries `work` sent to the lake's catalog (BEGIN/COMMIT/ROLLBACK left
    out), from DuckDB's own query log."""
    instance = _instance_conn()
    instance.execute("CALL enable_logging(level = 'debug')")
    try:
        instance.execute("CALL truncate_duckdb_logs()")
        work()
        [(count,)] = instance.execute(
            "SELECT count(*) FROM duckdb_logs WHERE type = 'PostgresQueryLog' "
            "AND NOT regexp_matches(message, '^\\{''query'': (BEGIN|COMMIT|ROLLBACK)')"
        ).fetchall()
        return int(count)
    finally:
        instance.execute("CALL disable_logging()")
        instance.execute("CALL truncate_duckdb_logs()")
