"""The stage stream's outbox: what a funnel run publishes, decided in the lake.

A funnel run, after rewriting users_by_activation_stage for its days, queues one row per
(user, day) whose (stage, previous_stage) differs from the last row queued for it, when it is
a change or something was queued for it before (so a day that stops being a change is
withdrawn with changed = false). All rows of a run share one publish_id, committed in one
lake transaction; the publisher (streams/publisher.py) publishes each publish_id above the
topic's position in one Kafka transaction. Recomputing a day that did not change queues
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from analytics_pipeline.streams.records import StreamRecord, stage_record
from analytics_pipeline.warehouse.connection import retry_conflicts, transaction
from analytics_pipeline.warehouse.named_sql import run

SQL_FILE = "analytics_pipeline.streams:stage_stream.sql"


@dataclass(frozen=True)
class StagePublish:
    """The records of one publish_id (`upto`); `lake_watermark` is the newest one queued."""

    after: int
    upto: int
    lake_watermark: int
    records: list[StreamRecord]


def _one(conn: duckdb.DuckDBPyConnection, name: str, params: dict) -> int:
    row = run(conn, SQL_FILE, name, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def queue_changes(conn: duckdb.DuckDBPyConnection, first_day: date, last_day: date) -> int:
    """Queue the stage records of the days (one transaction); return how many."""

    def work() -> int:
        with transaction(conn):
            publish_id = _one(conn, "newest_publish", {}) + 1
            params = {
                "first_day": first_day,
                "last_day": last_day,
                "publish_id": publish_id,
                "now": datetime.now(UTC),
            }
            run(conn, SQL_FILE, "queue_changes", params)
            return _one(conn, "queued_count", params)

    return retry_conflicts(work, what="queueing the stage stream", conn=conn)


def pending(conn: duckdb.DuckDBPyConnection, *, after: int) -> StagePublish:
    """The next publish_id above `after` that has records (ids without any are skipped)."""
    with transaction(conn):
        newest = _one(conn, "newest_publish", {})
        if newest <= after:
            return StagePublish(after, after, newest, [])
        next_id = _one(
            conn,
            "next_publish",
            {"after": after},
        )
        rows = run(conn, SQL_FILE, "records", {"publish_id": next_id}).fetchall()
    records = [stage_record(*row) for row in rows]
    return StagePublish(after, next_id, newest, records)
