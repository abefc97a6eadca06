"""Store one batch of Kafka messages exactly once: raw rows, dead letters and the ledger.

Everything a batch writes happens in one lake transaction, so a crash leaves either the
whole batch or none of it. Several writers may commit side by side (ANALYTICS_INGEST_WRITERS),
each over its own partitions, without ever conflicting: a batch only INSERTs (DuckLake
conflicts per table, and only when one side updates or deletes), its ledger rows included
(`ingest_offset_log`, read through the `ingest_offsets` view), and its batch id is taken
without a shared counter. Two writers that do reach for the same partition are serialised by
that partition's lock (warehouse/partition_locks.py): the second finds the ledger moved under
the lock and fails with a commit conflict, which the run loop retries from the new ledger, so
nothing is stored twice. Offsets below the ledger are skipped and a repeated `event_id` is
stored once (the first wins), so replaying or overlapping ranges is harmless.

The work is split so the ingest loop can overlap it with polling Kafka: `prepare_batch` only
gathers raw values into Arrow (cheap, on the consuming thread); `BatchWriter.add` validates and
inserts one part of a batch inside DuckDB (which releases the GIL) while the next part is
polled, all within one open transaction; `BatchWriter.commit` adds the ledger and commits.
Nothing is durable or visible before that commit.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from analytics_pipeline.events.strict import strictly_clean
from analytics_pipeline.events.wire import COLUMNS, Kind, validation_sql
from analytics_pipeline.warehouse.partition_locks import PartitionLocks
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

# One row per partition a batch moved, all in one statement (each lake statement costs ~10
# catalog round trips, so one per partition cost ~10 more per extra partition in every
# batch); the ledger is the row with the highest seq of each partition (the `ingest_offsets`
# view, migrations/0003_ingest_writers.sql). Appending never conflicts with another writer's
# appends; seq is the partition's own counter, read and written under its lock.
_APPEND_LEDGER = """
    INSERT INTO ingest_offset_log
        (topic, kafka_partition, next_offset, updated_at, ingest_batch_id, seq)
    SELECT $topic, unnest($partitions::INTEGER[]), unnest($next_offsets::BIGINT[]), $now,
        $batch_id::BIGINT, unnest($seqs::BIGINT[])
"""

_LEDGER_ROWS = """
    SELECT kafka_partition, next_offset, seq FROM ingest_offsets
    WHERE topic = $topic AND list_contains($partitions, kafka_partition)
"""

# Batch ids: unique (the millisecond and 20 random bits: BIGINT holds them until the year
# 2249), and growing with time so the zone maps on ingest_batch_id still find a batch's rows.
# No counter row is shared by the writers any more; the journeys watermark follows DuckLake's
# snapshots instead (journeys/derive.py).
_RANDOM_BITS = 20


def next_batch_id(conn: duckdb.DuckDBPyConnection | None = None) -> int:
    """A new ingest batch id; nothing is written (`conn` is accepted for older callers)."""
    return ((time.time_ns() // 1_000_000) << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)


def read_ledger(conn: duckdb.DuckDBPyConnection, topic: str) -> dict[int, int]:
    """{partition: next offset to ingest} of `topic` as the warehouse recorded it."""
    rows = conn.execute(
        "SELECT kafka_partition, next_offset FROM ingest_offsets WHERE topic = $topic",
        {"topic": topic},
    ).fetchall()
    return dict(rows)


def append_ledger(
    conn: duckdb.DuckDBPyConnection,
    *,
    topic: str,
    offsets: Mapping[int, int],
    seqs: Mapping[int, int],
    now: datetime,
    batch_id: int | None,
) -> None:
    """Record `offsets` ({partition: next offset}) in the open transaction, in one statement;
    `seqs` holds each partition's last seq as read under its lock (missing: none yet)."""
    ledger = sorted(offsets.items())
    if not ledger:
        return
    conn.execute(
        _APPEND_LEDGER,
        {
            "topic": topic,
            "partitions": [partition for partition, _ in ledger],
            "next_offsets": [next_offset for _, next_offset in ledger],
            "seqs": [seqs.get(partition, 0) + 1 for partition, _ in ledger],
            "now": now,
            "batch_id": batch_id,
        },
    )


def ledger_rows(
    conn: duckdb.DuckDBPyConnection, topic: str, partitions: Iterable[int]
) -> dict[int, tuple[int, int]]:
    """{partition: (next offset, seq)} of these partitions, as the open transaction sees it."""
    rows = conn.execute(
        _LEDGER_ROWS, {"topic": topic, "partitions": sorted(set(partitions))}
    ).fetchall()
    return {p: (o, s) for p, o, s in rows}


class LedgerMovedError(duckdb.TransactionException):
    """Another writer stored some of this batch's partitions since its ledger was read: a
    commit conflict (retried from the new ledger by the run loop)."""


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

    With `locks`, the transaction holds the locks of `partitions` from its start to its end,
    and first checks that the ledger of each is still `expected` (the ledger the batch was
    prepared from): if another writer moved it, LedgerMovedError. `expected` is updated when
    the batch commits, for the next batch of the same pass.
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        kind: Kind,
        now: datetime,
        *,
        locks: PartitionLocks | None = None,
        partitions: Iterable[int] = (),
        expected: MutableMapping[int, int] | None = None,
    ) -> None:
        self.conn, self.kind, self.now = conn, kind, now
        self.locks, self.partitions = locks, sorted(set(partitions))
        self.expected = expected
        self._params: dict[str, object] | None = None  # set while the transaction is open
        self._held: contextlib.ExitStack | None = None
        self._seqs: dict[int, int] = {}
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
            seqs = self._seqs
            if self.locks is None or not self.partitions:  # not read under locks: read now
                rows = ledger_rows(self.conn, result.topic, result.next_offsets)
                seqs = {p: s for p, (_, s) in rows.items()}
            append_ledger(
                self.conn,
                topic=result.topic,
                offsets=result.next_offsets,
                seqs=seqs,
                now=self.now,
                batch_id=int(params["batch_id"]),  # type: ignore[call-overload]
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        self._params = None
        self._release()
        if self.expected is not None:
            self.expected.update(result.next_offsets)
        written = self._written
        result.batch_id = params["batch_id"]  # type: ignore[assignment]
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
        self._release()

    def _release(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            held.close()

    def _begin(self, topic: str) -> dict[str, object]:
        if self._params is None:
            if self.locks is not None and self.partitions:
                self._held = contextlib.ExitStack()
                try:
                    self._held.enter_context(self.locks.hold(topic, self.partitions))
                except BaseException:
                    self._release()
                    raise
            self.conn.execute("BEGIN TRANSACTION")
            try:
                if self.locks is not None and self.partitions:
                    self._check_ledger(topic)
            except BaseException:
                self.conn.execute("ROLLBACK")
                self._release()
                raise
            self._params = {"now": self.now, "topic": topic, "batch_id": next_batch_id()}
        return self._params

    def _check_ledger(self, topic: str) -> None:
        """Under the locks: the ledger is still what the batch was prepared from."""
        rows = ledger_rows(self.conn, topic, self.partitions)
        self._seqs = {p: s for p, (_, s) in rows.items()}
        expected = self.expected or {}
        moved = [
            (p, expected.get(p), rows[p][0] if p in rows else None)
            for p in self.partitions
            if expected.get(p) != (rows[p][0] if p in rows else None)
        ]
        if moved:
            detail = ", ".join(f"partition {p} at {now} (read at {was})" for p, was, now in moved)
            raise LedgerMovedError(
                f"Transaction conflict - another writer stored {topic} since this batch read "
                f"the ledger: {detail}"
            )
