"""Store one batch of Kafka messages exactly once: raw rows, dead letters and the ledger.

Everything a batch writes happens in one DuckDB transaction, so a crash leaves either the
whole batch or none of it. Offsets below the `ingest_offsets` ledger are skipped and a repeated
`event_id` is stored once (the first wins), so replaying or overlapping ranges is harmless.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import duckdb
import pyarrow as pa

from analytics_pipeline.events.wire import Kind, Rejection, WireEvent, parse_message
from analytics_pipeline.warehouse.connection import transaction

RAW_TABLES: Mapping[Kind, str] = {
    "clickstream": "raw_clickstream_events",
    "backend": "raw_backend_events",
}


class RawRecord(NamedTuple):
    """One Kafka message as read: where it came from and its undecoded value."""

    partition: int
    offset: int
    value: bytes | None


@dataclass
class BatchResult:
    topic: str
    batch_id: int | None = None
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    already_ingested: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    next_offsets: dict[int, int] = field(default_factory=dict)
    min_ts: datetime | None = None
    max_ts: datetime | None = None


def _text_or_none(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _clickstream_columns(events: Sequence[WireEvent]) -> dict[str, pa.Array]:
    bodies = [e.body for e in events]
    return {
        "anonymous_id": pa.array([b["anonymous_id"] for b in bodies], pa.string()),
        "session_id": pa.array([b.get("session_id") for b in bodies], pa.string()),
        "page_url": pa.array([b.get("page_url") for b in bodies], pa.string()),
    }


def _backend_columns(events: Sequence[WireEvent]) -> dict[str, pa.Array]:
    method, path, status, duration, error_code, error_message = [], [], [], [], [], []
    deployment_id, deployment_status = [], []
    for event in events:
        request = event.body.get("request") or {}
        error = event.body.get("error") or {}
        deployment = event.body.get("deployment") or {}
        method.append(request.get("method"))
        path.append(request.get("path"))
        status.append(request.get("status"))
        duration.append(request.get("duration_ms"))
        error_code.append(_text_or_none(error.get("code")))
        error_message.append(error.get("message") or deployment.get("error_message"))
        deployment_id.append(deployment.get("deployment_id"))
        deployment_status.append(deployment.get("status"))
    return {
        "method": pa.array(method, pa.string()),
        "path": pa.array(path, pa.string()),
        "status": pa.array(status, pa.int32()),
        "duration_ms": pa.array(duration, pa.float64()),
        "error_code": pa.array(error_code, pa.string()),
        "error_message": pa.array(error_message, pa.string()),
        "deployment_id": pa.array(deployment_id, pa.string()),
        "deployment_status": pa.array(deployment_status, pa.string()),
    }


_KIND_COLUMNS = {"clickstream": _clickstream_columns, "backend": _backend_columns}

_INSERT_RAW = {
    "clickstream": """
        INSERT INTO raw_clickstream_events
            (kafka_partition, kafka_offset, event_id, type, ts, anonymous_id, user_id,
             session_id, page_url, payload, ingested_at, ingest_batch_id, kafka_topic)
        SELECT b.kafka_partition, b.kafka_offset, b.event_id, b.type, b.ts, b.anonymous_id,
               b.user_id, b.session_id, b.page_url, b.payload, $now, $batch_id, $topic
        FROM valid_batch AS b
        WHERE NOT EXISTS (
            SELECT 1 FROM raw_clickstream_events AS r WHERE r.event_id = b.event_id)
        QUALIFY row_number() OVER (PARTITION BY b.event_id ORDER BY b.seq) = 1
    """,
    "backend": """
        INSERT INTO raw_backend_events
            (kafka_partition, kafka_offset, event_id, type, ts, user_id, method, path, status,
             duration_ms, error_code, error_message, deployment_id, deployment_status, payload,
             ingested_at, ingest_batch_id, kafka_topic)
        SELECT b.kafka_partition, b.kafka_offset, b.event_id, b.type, b.ts, b.user_id,
               b.method, b.path, b.status, b.duration_ms, b.error_code, b.error_message,
               b.deployment_id, b.deployment_status, b.payload, $now, $batch_id, $topic
        FROM valid_batch AS b
        WHERE NOT EXISTS (
            SELECT 1 FROM raw_backend_events AS r WHERE r.event_id = b.event_id)
        QUALIFY row_number() OVER (PARTITION BY b.event_id ORDER BY b.seq) = 1
    """,
}

_INSERT_DEAD_LETTERS = """
    INSERT INTO dead_letter_events
        (topic, kafka_partition, kafka_offset, reason, detail, raw_value, raw_size,
         ingested_at, ingest_batch_id)
    SELECT $topic, kafka_partition, kafka_offset, reason, detail, raw_value, raw_size,
           $now, $batch_id
    FROM dead_batch
    ON CONFLICT DO NOTHING
"""

_UPSERT_LEDGER = """
    INSERT INTO ingest_offsets (topic, kafka_partition, next_offset, updated_at)
    VALUES ($topic, $partition, $next_offset, $now)
    ON CONFLICT (topic, kafka_partition) DO UPDATE SET
        next_offset = greatest(ingest_offsets.next_offset, excluded.next_offset),
        updated_at = excluded.updated_at
"""


def read_ledger(conn: duckdb.DuckDBPyConnection, topic: str) -> dict[int, int]:
    """{partition: next offset to ingest} of `topic` as the warehouse recorded it."""
    rows = conn.execute(
        "SELECT kafka_partition, next_offset FROM ingest_offsets WHERE topic = $topic",
        {"topic": topic},
    ).fetchall()
    return dict(rows)


def _valid_table(kind: Kind, rows: list[tuple[int, RawRecord, WireEvent]]) -> pa.Table:
    events = [event for _, _, event in rows]
    columns = {
        "seq": pa.array([seq for seq, _, _ in rows], pa.int64()),
        "kafka_partition": pa.array([r.partition for _, r, _ in rows], pa.int32()),
        "kafka_offset": pa.array([r.offset for _, r, _ in rows], pa.int64()),
        "event_id": pa.array([e.event_id for e in events], pa.string()),
        "type": pa.array([e.type for e in events], pa.string()),
        "ts": pa.array([e.ts for e in events], pa.timestamp("us", tz="UTC")),
        "user_id": pa.array([e.user_id for e in events], pa.string()),
        "payload": pa.array([e.text for e in events], pa.string()),
        **_KIND_COLUMNS[kind](events),
    }
    return pa.table(columns)


def _dead_table(rows: list[tuple[RawRecord, Rejection]]) -> pa.Table:
    return pa.table(
        {
            "kafka_partition": pa.array([r.partition for r, _ in rows], pa.int32()),
            "kafka_offset": pa.array([r.offset for r, _ in rows], pa.int64()),
            "reason": pa.array([str(j.reason) for _, j in rows], pa.string()),
            "detail": pa.array([j.detail for _, j in rows], pa.string()),
            "raw_value": pa.array([r.value for r, _ in rows], pa.binary()),
            "raw_size": pa.array([len(r.value or b"") for r, _ in rows], pa.int64()),
        }
    )


def _insert_from(
    conn: duckdb.DuckDBPyConnection, name: str, table: pa.Table, sql: str, params: dict
) -> int:
    """Run an INSERT … SELECT over `table` registered as `name`; returns the rows inserted."""
    conn.register(name, table)
    try:
        return conn.execute(sql, params).fetchall()[0][0]
    finally:
        conn.unregister(name)


def store_batch(
    conn: duckdb.DuckDBPyConnection,
    *,
    kind: Kind,
    topic: str,
    records: Sequence[RawRecord],
    end_offsets: Mapping[int, int] | None = None,
    now: datetime | None = None,
) -> BatchResult:
    """Validate `records` and store them with the ledger in one transaction.

    `end_offsets` ({partition: next offset}) lets the ledger move past offsets that hold no
    message (compaction, transaction markers); by default it is the last offset read + 1.
    """
    now = now or datetime.now(UTC)
    result = BatchResult(topic=topic, received=len(records))
    ledger = read_ledger(conn, topic)
    next_offsets: dict[int, int] = dict(end_offsets or {})
    valid: list[tuple[int, RawRecord, WireEvent]] = []
    dead: list[tuple[RawRecord, Rejection]] = []
    for seq, record in enumerate(records):
        partition_end = next_offsets.get(record.partition, 0)
        next_offsets[record.partition] = max(partition_end, record.offset + 1)
        if record.offset < ledger.get(record.partition, 0):
            result.already_ingested += 1
            continue
        parsed = parse_message(kind, record.value, now)
        if isinstance(parsed, Rejection):
            dead.append((record, parsed))
        else:
            valid.append((seq, record, parsed))
    result.next_offsets = {
        p: offset for p, offset in next_offsets.items() if offset > ledger.get(p, 0)
    }
    if not valid and not dead and not result.next_offsets:
        return result
    if valid:
        result.min_ts = min(event.ts for _, _, event in valid)
        result.max_ts = max(event.ts for _, _, event in valid)
    params = {"now": now, "topic": topic}
    with transaction(conn):
        batch_id = conn.execute("SELECT nextval('ingest_batch_seq')").fetchall()[0][0]
        params["batch_id"] = batch_id
        result.batch_id = batch_id
        if valid:
            sql, table = _INSERT_RAW[kind], _valid_table(kind, valid)
            result.stored = _insert_from(conn, "valid_batch", table, sql, params)
        result.duplicates = len(valid) - result.stored
        if dead:
            _insert_from(conn, "dead_batch", _dead_table(dead), _INSERT_DEAD_LETTERS, params)
            result.dead_letters.update(str(rejection.reason) for _, rejection in dead)
        for partition, next_offset in sorted(result.next_offsets.items()):
            conn.execute(
                _UPSERT_LEDGER,
                {"topic": topic, "partition": partition, "next_offset": next_offset, "now": now},
            )
    return result
