"""Store one batch of Kafka messages exactly once: raw rows, dead letters and the ledger.

Everything a batch writes happens in one lake transaction, so a crash leaves either the
whole batch or none of it. Every batch increments `ingest_batch_counter`, so two batches
committing at the same time conflict and the second is retried from the ledger (by the run
loop) instead of storing anything twice. Offsets below the `ingest_offsets` ledger are skipped
and a repeated `event_id` is stored once (the first wins), so replaying or overlapping ranges
is harmless.

The work is split so the ingest loop can overlap it with polling Kafka: `prepare_batch` only
gathers raw values into Arrow (cheap, on the consuming thread); `BatchWriter.add` validates and
inserts one part of a batch inside DuckDB (which releases the GIL) while the next part is
polled, all within one open transaction; `BatchWriter.commit` adds the ledger and commits.
Nothing is durable or visible before that commit.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from analytics_pipeline.events.strict import strictly_clean
from analytics_pipeline.events.wire import COLUMNS, Kind, validation_sql
from analytics_pipeline.warehouse.raw_tables import KEY_TABLES, RAW_TABLES, event_key


class RawRecord(NamedTuple):
    """One Kafka message as read: where it came from and its undecoded value."""

    partition: int
    offset: int
    value: bytes | None


class Record(Protocol):
    """What `prepare_batch` reads of a message: a RawRecord, or a kafka-python ConsumerRecord
    as polled (the ingest loop hands those over as they are, saving a copy per message)."""

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...


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
    value, clean)`, without those the ledger already holds (`clean`: see events.strict)."""

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
    return f"""
        INSERT INTO {RAW_TABLES[kind]} ({names})
        SELECT {values} FROM validated AS v SEMI JOIN fresh AS f ON f.seq = v.seq
    """


def _fresh_sql(kind: Kind) -> str:
    """The rows of the part to store, into temp table `fresh(seq, event_id)`: valid, not
    stored yet, the first of each event_id.

    "Stored yet" looks up the 8-byte keys (see raw_tables); only ids whose key is there are
    compared with stored event_ids, and only in the rows of the batches the keys name, which
    zone maps on ingest_batch_id find. With no candidate the join's build side is empty and
    DuckDB does not scan the raw table at all. Explicit SEMI/ANTI JOINs keep every hash table
    on the small side: a NOT EXISTS against the raw table was planned as a MARK join that
    hashed every stored event_id (5.4 s for 20 new messages at 27.7 M stored rows). Only seq
    and event_id are kept: copying the wide rows cost more than the insert itself.
    """
    return f"""
        CREATE OR REPLACE TEMP TABLE fresh AS
        WITH candidates AS (
            SELECT c.event_id, k.ingest_batch_id FROM validated AS c
            JOIN {KEY_TABLES[kind]} AS k ON k.event_key = {event_key("c.event_id")}
            WHERE c.reason IS NULL
        ),
        stored AS (
            SELECT c.event_id FROM candidates AS c
            SEMI JOIN {RAW_TABLES[kind]} AS r
                ON r.ingest_batch_id = c.ingest_batch_id AND r.event_id = c.event_id
        )
        SELECT v.seq, v.event_id FROM validated AS v
        ANTI JOIN stored AS s ON s.event_id = v.event_id
        WHERE v.reason IS NULL
        QUALIFY row_number() OVER (PARTITION BY v.event_id ORDER BY v.seq) = 1
    """


def _insert_keys_sql(kind: Kind) -> str:
    return f"""
        INSERT INTO {KEY_TABLES[kind]} SELECT {event_key("event_id")}, $batch_id FROM fresh
    """


_INSERT_DEAD_LETTERS = """
    INSERT INTO dead_letter_events
        (topic, kafka_partition, kafka_offset, reason, detail, raw_value, raw_size,
         ingested_at, ingest_batch_id)
    SELECT $topic, kafka_partition, kafka_offset, reason, detail, value,
           coalesce(octet_length(value), 0), $now, $batch_id
    FROM validated
    WHERE reason IS NOT NULL
"""

_SUMMARY = """
    SELECT reason, count(*), min(ts), max(ts) FROM validated GROUP BY reason
"""

# Every partition of the batch in one statement: each lake statement costs ~10 catalog round
# trips, so one MERGE per partition cost ~10 more per extra partition in every batch.
_UPSERT_LEDGER = """
    MERGE INTO ingest_offsets AS o
    USING (SELECT $topic AS topic, unnest($partitions::INTEGER[]) AS kafka_partition,
                  unnest($next_offsets::BIGINT[]) AS next_offset) AS n
    ON o.topic = n.topic AND o.kafka_partition = n.kafka_partition
    WHEN MATCHED THEN UPDATE SET
        next_offset = greatest(o.next_offset, n.next_offset),
        updated_at = $now,
        ingest_batch_id = $batch_id
    WHEN NOT MATCHED THEN INSERT (topic, kafka_partition, next_offset, updated_at, ingest_batch_id)
        VALUES (n.topic, n.kafka_partition, n.next_offset, $now, $batch_id)
"""

# The batch id: the counter's next value, taken by an UPDATE so that concurrent batches
# conflict (see migrations/0001_initial.sql).
_NEXT_BATCH_ID = """
    UPDATE ingest_batch_counter SET last_batch_id = last_batch_id + 1;
    SELECT max(last_batch_id) FROM ingest_batch_counter
"""


def next_batch_id(conn: duckdb.DuckDBPyConnection) -> int:
    """Take the next ingest batch id in the open transaction (see `_NEXT_BATCH_ID`)."""
    row = conn.execute(_NEXT_BATCH_ID).fetchone()
    assert row is not None
    return int(row[0])


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
    records: Sequence[Record],
    ledger: Mapping[int, int],
    end_offsets: Mapping[int, int] | None = None,
    seq_start: int = 0,
) -> PreparedBatch:
    """Gather `records` not yet in `ledger` into Arrow, each with the strict-JSON pre-check
    (events.strict: msgspec in C, ~2 µs a message) that lets validation skip its costliest
    checks.

    `end_offsets` ({partition: next offset}) lets the ledger move past offsets that hold no
    message (compaction, transaction markers); by default it is the last offset read + 1.
    `seq_start` numbers the records after those of earlier parts of the same batch. This runs
    on the polling thread for every message, so the per-partition bookkeeping is done on the
    Arrow columns (in C) rather than message by message in Python.
    """
    result = BatchResult(topic=topic, received=len(records))
    next_offsets: dict[int, int] = dict(end_offsets or {})
    if not records:
        result.next_offsets = {p: o for p, o in next_offsets.items() if o > ledger.get(p, 0)}
        return PreparedBatch(kind=kind, incoming=None, result=result)
    values = [r.value for r in records]
    table = pa.table(
        {
            "seq": pa.array(range(seq_start, seq_start + len(records)), pa.int64()),
            "kafka_partition": pa.array([r.partition for r in records], pa.int32()),
            "kafka_offset": pa.array([r.offset for r in records], pa.int64()),
            "value": pa.array(values, pa.binary()),
        }
    )
    spans = table.group_by("kafka_partition").aggregate(
        [("kafka_offset", "min"), ("kafka_offset", "max")]
    )
    stale = None  # rows the ledger already holds
    for partition, lowest, highest in zip(
        spans.column("kafka_partition").to_pylist(),
        spans.column("kafka_offset_min").to_pylist(),
        spans.column("kafka_offset_max").to_pylist(),
        strict=True,
    ):
        next_offsets[partition] = max(next_offsets.get(partition, 0), highest + 1)
        held = ledger.get(partition, 0)
        if lowest < held:
            mask = pc.and_(
                pc.equal(table.column("kafka_partition"), partition),
                pc.less(table.column("kafka_offset"), held),
            )
            stale = mask if stale is None else pc.or_(stale, mask)
    if stale is not None:
        result.already_ingested = pc.sum(stale).as_py() or 0
        table = table.filter(pc.invert(stale))
        values = list(itertools.compress(values, pc.invert(stale).to_pylist()))
    result.next_offsets = {p: o for p, o in next_offsets.items() if o > ledger.get(p, 0)}
    incoming = None
    if table.num_rows:
        incoming = table.append_column("clean", pa.array(strictly_clean(values), pa.bool_()))
    return PreparedBatch(kind=kind, incoming=incoming, result=result)


def merge_part(batch: BatchResult, part: BatchResult) -> None:
    """Fold what `prepare_batch` found in one part into its batch's result."""
    batch.received += part.received
    batch.already_ingested += part.already_ingested
    for partition, offset in part.next_offsets.items():
        batch.next_offsets[partition] = max(offset, batch.next_offsets.get(partition, 0))


class BatchWriter:
    """Writes one batch part by part inside one lake transaction, committed with the ledger.

    Each `add` validates a part and inserts its rows and dead letters at once (the transaction
    sees its own rows, so a repeated `event_id` in a later part is still stored once), which
    leaves only the last part and the ledger for after the final poll. Nothing is visible to
    readers, or durable, before `commit`; `rollback` (or a crash) discards the whole batch.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection, kind: Kind, now: datetime) -> None:
        self.conn, self.kind, self.now = conn, kind, now
        self._params: dict[str, object] | None = None  # set while the transaction is open
        self._written = BatchResult(topic="")

    def add(self, part: PreparedBatch) -> None:
        """Validate one part (seq numbers continuing the earlier parts') and insert it."""
        if part.incoming is None:
            return
        params = self._begin(part.result.topic)
        conn, written = self.conn, self._written
        conn.register("incoming", part.incoming)
        try:
            conn.execute(
                f"CREATE OR REPLACE TEMP TABLE validated AS {validation_sql(self.kind)}",
                {"now": self.now},
            )
        finally:
            conn.unregister("incoming")
        conn.execute(_fresh_sql(self.kind))
        stored = conn.execute(_insert_raw_sql(self.kind), params).fetchall()[0][0]
        conn.execute(_insert_keys_sql(self.kind), {"batch_id": params["batch_id"]})
        written.stored += stored
        conn.execute(_INSERT_DEAD_LETTERS, params)
        for reason, count, min_ts, max_ts in conn.execute(_SUMMARY).fetchall():
            if reason is None:
                written.duplicates += count - stored
                written.min_ts = min_ts if written.min_ts is None else min(written.min_ts, min_ts)
                written.max_ts = max_ts if written.max_ts is None else max(written.max_ts, max_ts)
            else:
                written.dead_letters[reason] += count
        conn.execute("DROP TABLE validated; DROP TABLE fresh")

    def commit(self, result: BatchResult) -> BatchResult:
        """Move the ledger and commit; `result` (what was read) gets what was written."""
        if self._params is None and not result.next_offsets:
            return result
        params = self._begin(result.topic)
        try:
            ledger = sorted(result.next_offsets.items())
            if ledger:
                self.conn.execute(
                    _UPSERT_LEDGER,
                    {
                        "topic": result.topic,
                        "now": self.now,
                        "partitions": [partition for partition, _ in ledger],
                        "next_offsets": [next_offset for _, next_offset in ledger],
                        "batch_id": params["batch_id"],
                    },
                )
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        self._params = None
        written = self._written
        result.batch_id = params["batch_id"]
        result.stored, result.duplicates = written.stored, written.duplicates
        result.dead_letters.update(written.dead_letters)
        result.min_ts, result.max_ts = written.min_ts, written.max_ts
        return result

    def rollback(self) -> None:
        """Discard everything added since the transaction began."""
        if self._params is not None:
            self._params = None
            # a failed COMMIT has ended the transaction already
            with contextlib.suppress(duckdb.TransactionException):
                self.conn.execute("ROLLBACK")

    def _begin(self, topic: str) -> dict[str, object]:
        if self._params is None:
            self.conn.execute("BEGIN TRANSACTION")
            try:
                batch_id = next_batch_id(self.conn)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self._params = {"now": self.now, "topic": topic, "batch_id": batch_id}
        return self._params
