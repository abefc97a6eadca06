"""Store one batch of Kafka messages exactly once: raw rows, dead letters and the ledger.

Everything a batch writes happens in one DuckDB transaction, so a crash leaves either the
whole batch or none of it. Offsets below the `ingest_offsets` ledger are skipped and a repeated
`event_id` is stored once (the first wins), so replaying or overlapping ranges is harmless.

The work is split so the ingest loop can overlap it with polling Kafka: `prepare_batch` only
gathers raw values into Arrow (cheap, on the consuming thread); `Staging.add` validates one part
of a batch with the compiled wire-format query into a temporary table, inside DuckDB (which
releases the GIL), while the next part is polled; `Staging.commit` then writes the whole
batch in one transaction. Nothing is durable before that commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import duckdb
import pyarrow as pa

from analytics_pipeline.events.wire import COLUMNS, Kind, validation_sql
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


@dataclass
class PreparedBatch:
    """The messages of one transaction as an Arrow table `incoming(seq, partition, offset,
    value)`, without those the ledger already holds."""

    kind: Kind
    incoming: pa.Table | None
    result: BatchResult


def _insert_raw_sql(kind: Kind) -> str:
    columns = list(COLUMNS[kind])
    names = ", ".join(
        [
            "kafka_partition",
            "kafka_offset",
            "event_id",
            "type",
            "ts",
            "user_id",
            *columns,
            "payload",
            "ingested_at",
            "ingest_batch_id",
            "kafka_topic",
        ]
    )
    values = ", ".join(
        [
            "v.kafka_partition",
            "v.kafka_offset",
            "v.event_id",
            "v.type",
            "v.ts",
            "v.user_id",
            *(f"v.{c}" for c in columns),
            "v.payload",
            "$now",
            "$batch_id",
            "$topic",
        ]
    )
    table = RAW_TABLES[kind]
    return f"""
        INSERT INTO {table} ({names})
        SELECT {values}
        FROM validated AS v
        WHERE v.reason IS NULL
          AND NOT EXISTS (SELECT 1 FROM {table} AS r WHERE r.event_id = v.event_id)
        QUALIFY row_number() OVER (PARTITION BY v.event_id ORDER BY v.seq) = 1
    """


_INSERT_DEAD_LETTERS = """
    INSERT INTO dead_letter_events
        (topic, kafka_partition, kafka_offset, reason, detail, raw_value, raw_size,
         ingested_at, ingest_batch_id)
    SELECT $topic, kafka_partition, kafka_offset, reason, detail, value,
           coalesce(octet_length(value), 0), $now, $batch_id
    FROM validated
    WHERE reason IS NOT NULL
    ON CONFLICT DO NOTHING
"""

_SUMMARY = """
    SELECT reason, count(*), min(ts), max(ts) FROM validated GROUP BY reason
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


def prepare_batch(
    *,
    kind: Kind,
    topic: str,
    records: Sequence[RawRecord],
    ledger: Mapping[int, int],
    end_offsets: Mapping[int, int] | None = None,
    seq_start: int = 0,
) -> PreparedBatch:
    """Gather `records` not yet in `ledger` into Arrow.

    `end_offsets` ({partition: next offset}) lets the ledger move past offsets that hold no
    message (compaction, transaction markers); by default it is the last offset read + 1.
    `seq_start` numbers the records after those of earlier parts of the same batch.
    """
    result = BatchResult(topic=topic, received=len(records))
    next_offsets: dict[int, int] = dict(end_offsets or {})
    seq, partitions, offsets, values = [], [], [], []
    for position, (partition, offset, value) in enumerate(records, start=seq_start):
        if offset >= next_offsets.get(partition, 0):
            next_offsets[partition] = offset + 1
        if offset < ledger.get(partition, 0):
            result.already_ingested += 1
            continue
        seq.append(position)
        partitions.append(partition)
        offsets.append(offset)
        values.append(value)
    result.next_offsets = {p: o for p, o in next_offsets.items() if o > ledger.get(p, 0)}
    incoming = None
    if seq:
        incoming = pa.table(
            {
                "seq": pa.array(seq, pa.int64()),
                "kafka_partition": pa.array(partitions, pa.int32()),
                "kafka_offset": pa.array(offsets, pa.int64()),
                "value": pa.array(values, pa.binary()),
            }
        )
    return PreparedBatch(kind=kind, incoming=incoming, result=result)


def merge_part(batch: BatchResult, part: BatchResult) -> None:
    """Fold what `prepare_batch` found in one part into its batch's result."""
    batch.received += part.received
    batch.already_ingested += part.already_ingested
    for partition, offset in part.next_offsets.items():
        batch.next_offsets[partition] = max(offset, batch.next_offsets.get(partition, 0))


class Staging:
    """One batch being validated part by part into the temporary table `validated`, then
    written in one transaction. Temporary and outside any transaction until `commit`: a crash
    before it loses only work, never leaves rows behind."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, kind: Kind, now: datetime) -> None:
        self.conn, self.kind, self.now = conn, kind, now
        self.staged = False

    def add(self, part: PreparedBatch) -> None:
        """Validate one part (seq numbers continuing the earlier parts')."""
        if part.incoming is None:
            return
        target = (
            "INSERT INTO validated BY NAME"
            if self.staged
            else "CREATE OR REPLACE TEMP TABLE validated AS"
        )
        self.conn.register("incoming", part.incoming)
        try:
            self.conn.execute(f"{target} {validation_sql(self.kind)}", {"now": self.now})
        finally:
            self.conn.unregister("incoming")
        self.staged = True

    def commit(self, result: BatchResult) -> BatchResult:
        """Write raw rows, dead letters and the ledger of the whole batch in one transaction."""
        if not self.staged and not result.next_offsets:
            return result
        conn, params = self.conn, {"now": self.now, "topic": result.topic}
        with transaction(conn):
            result.batch_id = conn.execute("SELECT nextval('ingest_batch_seq')").fetchall()[0][0]
            params["batch_id"] = result.batch_id
            if self.staged:
                result.stored = conn.execute(_insert_raw_sql(self.kind), params).fetchall()[0][0]
                conn.execute(_INSERT_DEAD_LETTERS, params)
                for reason, count, min_ts, max_ts in conn.execute(_SUMMARY).fetchall():
                    if reason is None:
                        result.duplicates = count - result.stored
                        result.min_ts, result.max_ts = min_ts, max_ts
                    else:
                        result.dead_letters[reason] = count
            for partition, next_offset in sorted(result.next_offsets.items()):
                conn.execute(
                    _UPSERT_LEDGER,
                    {
                        "topic": result.topic,
                        "now": self.now,
                        "partition": partition,
                        "next_offset": next_offset,
                    },
                )
        if self.staged:
            conn.execute("DROP TABLE validated")
            self.staged = False
        return result


def write_batch(
    conn: duckdb.DuckDBPyConnection, batch: PreparedBatch, now: datetime
) -> BatchResult:
    """Validate and write a prepared batch (raw rows, dead letters, ledger) in one transaction."""
    staging = Staging(conn, batch.kind, now)
    staging.add(batch)
    return staging.commit(batch.result)


def store_batch(
    conn: duckdb.DuckDBPyConnection,
    *,
    kind: Kind,
    topic: str,
    records: Sequence[RawRecord],
    end_offsets: Mapping[int, int] | None = None,
    now: datetime | None = None,
) -> BatchResult:
    """Validate `records` and store them with the ledger in one transaction."""
    batch = prepare_batch(
        kind=kind,
        topic=topic,
        records=records,
        ledger=read_ledger(conn, topic),
        end_offsets=end_offsets,
    )
    return write_batch(conn, batch, now or datetime.now(UTC))
