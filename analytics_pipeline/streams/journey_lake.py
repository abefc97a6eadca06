"""What the journey stream must publish beyond a position, read from the lake.

The stream's position is a journeys watermark (a DuckLake snapshot id, journeys/derive.py):
the topic holds every record of what the journeys step took from the raw rows committed up to
that snapshot. Raw writers commit side by side, so batch ids no longer follow commit order;
a batch commits in one snapshot, and every journey_events row keeps the batch that derived it
(a row moved by a late link keeps it too), so the actions of the batches committed in
snapshots (after, upto] are exactly the ones not published yet; identity changes are the
links whose linking event is in those snapshots. Everything is read in one transaction (one
snapshot), so the records match one committed state of the lake. Nothing here writes to the
lake (a temp table holds the range's batch ids).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

import duckdb

from analytics_pipeline.streams.records import (
    ActionRow,
    IdentityChange,
    StreamRecord,
    action_key,
    build_publish,
)
from analytics_pipeline.warehouse.connection import retry_conflicts, transaction
from analytics_pipeline.warehouse.named_sql import run

SQL_FILE = "analytics_pipeline.streams:journey_stream.sql"


@dataclass(frozen=True)
class PendingPublish:
    """The records of raw snapshots (after, upto]; `lake_watermark` is the lake's newest."""

    after: int
    upto: int
    lake_watermark: int
    records: list[StreamRecord]
    actions: int
    identities: int


def read_lake_id(conn: duckdb.DuckDBPyConnection) -> str | None:
    """The id `lake_id` made, or None before the lake's first publish (reads only)."""
    row = conn.execute(
        "SELECT min(value) FROM pipeline_watermarks WHERE name = 'lake_id'"
    ).fetchone()
    return None if row is None or row[0] is None else f"{int(row[0]):x}"


def lake_id(conn: duckdb.DuckDBPyConnection) -> str:
    """A random id this lake keeps (in pipeline_watermarks, made once): the streams name their
    lake in every record, so two lakes never interleave in one topic."""
    found = read_lake_id(conn)
    if found is None:

        def insert() -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO pipeline_watermarks VALUES ('lake_id', $value, now())",
                    {"value": secrets.randbits(62)},
                )

        retry_conflicts(insert, what="naming the lake for its streams")
        found = read_lake_id(conn)  # two first publishers at once: the smaller wins
    assert found is not None
    return found


def journeys_watermark(conn: duckdb.DuckDBPyConnection) -> int:
    """The journeys step's watermark: the raw snapshot it has derived everything up to."""
    row = run(conn, SQL_FILE, "journeys_watermark", {}).fetchone()
    return int(row[0]) if row else 0


def _upto_within(sizes: list[tuple[int, int]], lake_watermark: int, max_records: int) -> int:
    """The furthest raw snapshot such that the actions of (after, it] stay within
    `max_records` (at least one snapshot, however big)."""
    total = 0
    for index, (_batch, count) in enumerate(sizes):
        total += count
        if total > max_records and index > 0:
            return sizes[index - 1][0]
    return lake_watermark


def pending(
    conn: duckdb.DuckDBPyConnection,
    *,
    after: int,
    clickstream_topic: str,
    backend_topic: str,
    max_records: int = 20_000,
) -> PendingPublish:
    """The next publish after position `after`: at most about `max_records` actions."""
    with transaction(conn):
        lake_watermark = journeys_watermark(conn)
        if lake_watermark <= after:
            return PendingPublish(after, after, lake_watermark, [], 0, 0)
        params = {
            "after": after,
            "upto": lake_watermark,
            "clickstream_topic": clickstream_topic,
            "backend_topic": backend_topic,
        }
        run(conn, SQL_FILE, "range_batches", params)
        try:
            sizes = [
                (int(b), int(n)) for b, n in run(conn, SQL_FILE, "batch_sizes", params).fetchall()
            ]
            params["upto"] = upto = _upto_within(sizes, lake_watermark, max_records)
            actions = [action_row(row) for row in run(conn, SQL_FILE, "actions", params).fetchall()]
            identities = [
                IdentityChange(*row)
                for row in run(conn, SQL_FILE, "identity_changes", params).fetchall()
            ]
            published = _published_max_ts(conn, after, actions) if after > 0 else {}
        finally:
            run(conn, SQL_FILE, "drop_range_batches", {})
    records = build_publish(actions, identities, published)
    return PendingPublish(after, upto, lake_watermark, records, len(actions), len(identities))


def action_row(row: tuple) -> ActionRow:
    """One row of the `actions` queries (journey_stream.sql) as an ActionRow."""
    (topic, event_id, user_id, anonymous_id, ts, action, details, via, partition, offset) = row
    return ActionRow(
        source_topic=topic,
        event_id=event_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        ts=ts,
        action=action,
        details=json.loads(details) if details is not None else None,
        user_via_identity=bool(via),
        source_partition=partition,
        source_offset=offset,
    )


def _published_max_ts(
    conn: duckdb.DuckDBPyConnection, after: int, actions: list[ActionRow]
) -> dict[str, datetime]:
    """Per key of this publish, the latest ts among actions of earlier publishes now under
    that key (a browser's actions published before its link count for its user)."""
    users = sorted({a.user_id for a in actions if a.user_id is not None})
    browsers = sorted({a.anonymous_id for a in actions if a.user_id is None and a.anonymous_id})
    latest: dict[str, datetime] = {}
    if users:
        for user_id, ts in run(
            conn, SQL_FILE, "published_max_ts_users", {"after": after, "users": users}
        ).fetchall():
            latest[action_key(user_id, None, "")] = ts
    if browsers:
        for anonymous_id, ts in run(
            conn, SQL_FILE, "published_max_ts_browsers", {"after": after, "browsers": browsers}
        ).fetchall():
            latest[action_key(None, anonymous_id, "")] = ts
    return latest
