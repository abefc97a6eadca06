"""Move Kafka offset ranges into the warehouse exactly once.

The sensor plans ranges from `end_offsets()` alone (`plan_runs`, pure); a run then reads its
ranges (`ingest_ranges`) starting from the warehouse ledger, so a range that was already
stored is skipped and a range left behind by a failed run is picked up by the next one.
Each batch of at most `max_batch` messages is one DuckDB transaction; consumer-group offsets
are committed only after that transaction.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import duckdb

from analytics_pipeline.events.wire import Kind
from analytics_pipeline.warehouse.raw_writer import (
    BatchResult,
    BatchWriter,
    RawRecord,
    merge_part,
    prepare_batch,
    read_ledger,
)

INGEST_DUCKDB_MEMORY_LIMIT = "256MB"
INGEST_CHECKPOINT_THRESHOLD = "256MB"
# DuckDB takes the GIL back many times per statement (to check for signals); with the polling
# thread busy in Python each take waits for the 5 ms default switch interval, which made the
# writer thread 2-4x slower. A short interval while ingesting removes that wait.
INGEST_SWITCH_INTERVAL_S = 0.0005
# Messages validated at a time on the writer thread while the next ones are polled.
STAGE_PART = 25_000


@dataclass(frozen=True, order=True)
class OffsetRange:
    """Offsets [start, end) of one partition."""

    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


def plan_runs(
    cursor: Mapping[int, int], end_offsets: Mapping[int, int], max_batch: int
) -> list[list[OffsetRange]]:
    """Split everything between `cursor` and `end_offsets` of one topic into runs of at most
    `max_batch` messages (see `plan_topic_runs`)."""
    return [run[""] for run in plan_topic_runs({"": cursor}, {"": end_offsets}, max_batch)]


def plan_topic_runs(
    cursors: Mapping[str, Mapping[int, int]],
    end_offsets: Mapping[str, Mapping[int, int]],
    max_batch: int,
) -> list[dict[str, list[OffsetRange]]]:
    """Split what is new on several topics into runs of at most `max_batch` messages in all.

    Topics are filled in the order of `end_offsets`, then partitions in order, so a run may
    span several of each. A partition missing from its topic's cursor starts at offset 0 (the
    run seeks to the earliest offset Kafka still has).
    """
    if max_batch <= 0:
        raise ValueError("max_batch must be positive")
    runs: list[dict[str, list[OffsetRange]]] = []
    current: dict[str, list[OffsetRange]] = {}
    room = max_batch
    for topic, ends in end_offsets.items():
        cursor = cursors.get(topic, {})
        for partition in sorted(ends):
            start, end = cursor.get(partition, 0), ends[partition]
            while start < end:
                take = min(room, end - start)
                current.setdefault(topic, []).append(OffsetRange(partition, start, start + take))
                start += take
                room -= take
                if room == 0:
                    runs.append(current)
                    current, room = {}, max_batch
    if current:
        runs.append(current)
    return runs


def run_key(topic: str, ranges: Sequence[OffsetRange]) -> str:
    """Deterministic: the same ranges always give the same key, so Dagster launches them once."""
    return topic + "|" + ",".join(f"{r.partition}:{r.start}-{r.end}" for r in sorted(ranges))


def topics_run_key(run: Mapping[str, Sequence[OffsetRange]]) -> str:
    """`run_key` of every topic of a multi-topic run, in topic order."""
    return ";".join(run_key(topic, run[topic]) for topic in sorted(run))


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


def effective_ranges(
    requested: Sequence[OffsetRange], ledger: Mapping[int, int]
) -> list[OffsetRange]:
    """Start each partition at the ledger when it has one (skip what is stored, fill gaps)."""
    ranges = []
    for r in requested:
        start = ledger.get(r.partition, r.start)
        if start < r.end:
            ranges.append(OffsetRange(r.partition, start, r.end))
    return ranges


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
    part_size: int = STAGE_PART,
) -> IngestReport:
    """Read `ranges` of `topic` and store them batch by batch; returns what happened.

    After each batch's transaction the consumer group's offsets are committed too (unless
    `commit_offsets` is off), so standard Kafka lag tools see the progress. A batch is
    validated `part_size` messages at a time while the next part is polled.
    """
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    report = IngestReport(topic=topic, requested=list(ranges))
    # Bound DuckDB's share of the run's memory; a chunk that needs more spills to disk.
    conn.execute(f"SET memory_limit = '{INGEST_DUCKDB_MEMORY_LIMIT}'")
    # Checkpoint when the run closes the file rather than after nearly every batch's commit.
    conn.execute(f"SET checkpoint_threshold = '{INGEST_CHECKPOINT_THRESHOLD}'")
    ledger = read_ledger(conn, topic)
    todo = effective_ranges(ranges, ledger)
    report.read = todo
    if not todo:
        return report
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
            consumer.commit(
                {partitions[p]: OffsetAndMetadata(o, "", -1) for p, o in batch_ends.items()}
            )
        if progress is not None:
            progress(report)

    # Polling runs here while DuckDB validates and inserts the previous part on the writer
    # thread (it releases the GIL), so the two cores overlap; one job in flight at most. A batch
    # of up to `max_batch` messages is written part by part in one transaction.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(INGEST_SWITCH_INTERVAL_S)
    try:
        with _BackgroundWriter() as writer:
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
    return report


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


class _BackgroundWriter:
    """Runs DuckDB jobs in order on one background thread, at most one in flight; a job's
    `then` runs on the caller's thread once the job has finished."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duckdb-writer")
        self._pending: tuple[Future[Any], Callable[[Any], None] | None] | None = None

    def submit(self, job: Callable[[], Any], then: Callable[[Any], None] | None = None) -> None:
        self._wait()
        self._pending = (self._executor.submit(job), then)

    def _wait(self) -> None:
        if self._pending is not None:
            future, then = self._pending
            self._pending = None
            result = future.result()
            if then is not None:
                then(result)

    def __enter__(self) -> _BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._wait()
            elif self._pending is not None:
                self._pending[0].exception()  # let an in-flight transaction finish or fail
        finally:
            self._executor.shutdown(wait=True)


def _now() -> datetime:
    return datetime.now(UTC)
