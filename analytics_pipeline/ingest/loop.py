"""The ingest run loop: read offset ranges of one topic and store them batch by batch.

Each batch of at most `max_batch` messages is one lake transaction (ingest/writer.py);
consumer-group offsets are committed only after it, and only as information for Kafka's lag
tools: a failed group commit never fails the run.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import duckdb

from analytics_pipeline.events.wire import Kind
from analytics_pipeline.ingest.background import BackgroundWriter
from analytics_pipeline.ingest.ranges import OffsetRange, effective_ranges
from analytics_pipeline.ingest.writer import (
    BatchResult,
    BatchWriter,
    RawRecord,
    merge_part,
    prepare_batch,
    read_ledger,
)
from analytics_pipeline.warehouse.connection import retry_conflicts

INGEST_DUCKDB_MEMORY_LIMIT = "256MB"
# DuckDB takes the GIL back many times per statement (to check for signals); with the polling
# thread busy in Python each take waits for the 5 ms default switch interval, which made the
# writer thread 2-4x slower. A short interval while ingesting removes that wait.
INGEST_SWITCH_INTERVAL_S = 0.0005
# Messages validated at a time on the writer thread while the next ones are polled.
STAGE_PART = 25_000


@dataclass
class IngestReport:
    """What one ingest run did, for materialisation metadata."""

    topic: str
    requested: list[OffsetRange]
    read: list[OffsetRange] = field(default_factory=list)
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    already_ingested: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    lost_to_retention: int = 0
    batches: int = 0
    batch_ids: list[int] = field(default_factory=list)
    conflicts_retried: int = 0
    group_commit_failures: int = 0
    min_ts: datetime | None = None
    max_ts: datetime | None = None

    def add(self, batch: BatchResult) -> None:
        self.batches += 1
        if batch.batch_id is not None:
            self.batch_ids.append(batch.batch_id)
        self.received += batch.received
        self.stored += batch.stored
        self.duplicates += batch.duplicates
        self.already_ingested += batch.already_ingested
        self.dead_letters.update(batch.dead_letters)
        for attr, pick in (("min_ts", min), ("max_ts", max)):
            value = getattr(batch, attr)
            if value is not None:
                current = getattr(self, attr)
                setattr(self, attr, value if current is None else pick(current, value))


class StalledPartitionError(RuntimeError):
    pass


def ingest_ranges(
    consumer,  # kafka.KafkaConsumer, already configured; closed by the caller
    conn: duckdb.DuckDBPyConnection,
    *,
    kind: Kind,
    topic: str,
    ranges: Sequence[OffsetRange],
    max_batch: int,
    stall_timeout_s: float = 30.0,
    commit_offsets: bool = True,
    progress: Callable[[IngestReport], None] | None = None,
    warn: Callable[[str], None] | None = None,
    part_size: int = STAGE_PART,
) -> IngestReport:
    """Read `ranges` of `topic` and store them batch by batch; returns what happened.

    After each batch's transaction the consumer group's offsets are committed too (unless
    `commit_offsets` is off), so standard Kafka lag tools see the progress. A batch is
    validated `part_size` messages at a time while the next part is polled. A batch whose
    commit conflicts with another writer's (two runs of the same offsets) is rolled back and
    read again from the ledger after a back-off, reported through `warn`: the batches
    committed before it stay, and what the other writer stored is skipped.
    """
    report = IngestReport(topic=topic, requested=list(ranges))
    # Bound DuckDB's share of the run's memory; a chunk that needs more spills to disk.
    conn.execute(f"SET memory_limit = '{INGEST_DUCKDB_MEMORY_LIMIT}'")
    attempt = [0]

    def store() -> None:
        attempt[0] += 1
        _read_and_store(
            consumer,
            conn,
            report,
            kind=kind,
            max_batch=max_batch,
            stall_timeout_s=stall_timeout_s,
            commit_offsets=commit_offsets,
            progress=progress,
            warn=warn,
            part_size=part_size,
        )

    retry_conflicts(store, what=f"storing a batch of {topic}", on_retry=warn)
    report.conflicts_retried = attempt[0] - 1
    return report


def _read_and_store(
    consumer,
    conn: duckdb.DuckDBPyConnection,
    report: IngestReport,
    *,
    kind: Kind,
    max_batch: int,
    stall_timeout_s: float,
    commit_offsets: bool,
    progress: Callable[[IngestReport], None] | None,
    warn: Callable[[str], None] | None,
    part_size: int,
) -> None:
    """One pass of `ingest_ranges` from the ledger as committed now."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    topic, ranges = report.topic, report.requested
    ledger = read_ledger(conn, topic)
    todo = effective_ranges(ranges, ledger)
    if not report.read:
        report.read = todo
    if not todo:
        return
    partitions = {r.partition: TopicPartition(topic, r.partition) for r in todo}
    ends = {r.partition: r.end for r in todo}
    consumer.assign(list(partitions.values()))
    earliest = consumer.beginning_offsets(list(partitions.values()))
    for r in todo:
        tp = partitions[r.partition]
        start = max(r.start, earliest.get(tp, 0))
        report.lost_to_retention += min(start, r.end) - r.start
        consumer.seek(tp, start)

    part: list[RawRecord] = []
    part_size = min(part_size, max_batch)
    batch, batch_size, writing = BatchResult(topic=topic), 0, BatchWriter(conn, kind, _now())
    positions = {p: consumer.position(tp) for p, tp in partitions.items()}
    active = {p for p in partitions if positions[p] < ends[p]}
    last_progress = time.monotonic()

    def committed(result: BatchResult, batch_ends: dict[int, int]) -> None:
        """Runs once a batch's transaction is durable: report it, then tell Kafka."""
        report.add(result)
        if commit_offsets:
            try:
                consumer.commit(
                    {partitions[p]: OffsetAndMetadata(o, "", -1) for p, o in batch_ends.items()}
                )
            except Exception as error:  # the lake holds the truth; the group is a lag view
                report.group_commit_failures += 1
                if warn is not None:
                    warn(
                        f"{topic}: the batch is stored, but committing the consumer group's "
                        f"offsets failed ({type(error).__name__}: {error}); Kafka lag tools "
                        "lag behind until the next batch"
                    )
        if progress is not None:
            progress(report)

    # Polling runs here while DuckDB validates and inserts the previous part on the writer
    # thread (it releases the GIL), so the two cores overlap; one job in flight at most. A batch
    # of up to `max_batch` messages is written part by part in one transaction.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(INGEST_SWITCH_INTERVAL_S)
    try:
        with BackgroundWriter() as writer:
            while active:
                room = min(part_size - len(part), max_batch - batch_size - len(part))
                polled = consumer.poll(timeout_ms=500, max_records=max(1, room))
                for tp, messages in polled.items():
                    end = ends[tp.partition]
                    part.extend(
                        RawRecord(m.partition, m.offset, m.value)
                        for m in messages
                        if m.offset < end
                    )
                for p in list(active):
                    positions[p] = consumer.position(partitions[p])
                    if positions[p] >= ends[p]:
                        active.discard(p)
                        consumer.pause(partitions[p])
                if polled:
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > stall_timeout_s:
                    raise _stalled(topic, stall_timeout_s, positions, ends, active)
                batch_done = batch_size + len(part) >= max_batch or not active
                # The last part carries the batch's end offsets, so the ledger also moves past
                # offsets that hold no message.
                batch_ends = (
                    {p: min(positions[p], ends[p]) for p in partitions} if batch_done else None
                )
                if len(part) >= part_size or batch_done:
                    prepared = prepare_batch(
                        kind=kind,
                        topic=topic,
                        records=part,
                        ledger=ledger,
                        end_offsets=batch_ends,
                        seq_start=batch_size,
                    )
                    merge_part(batch, prepared.result)
                    batch_size, part = batch_size + len(part), []
                    writer.submit(partial(writing.add, prepared))
                if batch_done:
                    writer.submit(
                        partial(writing.commit, batch),
                        then=partial(committed, batch_ends=batch_ends),
                    )
                    batch, batch_size = BatchResult(topic=topic), 0
                    writing = BatchWriter(conn, kind, _now())
    except BaseException:
        writing.rollback()  # the open batch, if any; earlier batches are committed
        raise
    finally:
        sys.setswitchinterval(switch_interval)


def _stalled(
    topic: str,
    timeout_s: float,
    positions: Mapping[int, int],
    ends: Mapping[int, int],
    active: set[int],
) -> StalledPartitionError:
    stuck = ", ".join(f"{p} at {positions[p]} of {ends[p]}" for p in sorted(active))
    return StalledPartitionError(
        f"no messages from {topic} for {timeout_s:.0f}s (partition {stuck}); "
        "the offsets may have been deleted or the broker is unavailable"
    )


def _now() -> datetime:
    return datetime.now(UTC)
