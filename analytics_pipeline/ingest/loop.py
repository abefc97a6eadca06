"""The ingest run loop: read offset ranges of one topic and store them batch by batch.

Each batch of at most `max_batch` messages and `max_batch_bytes` bytes of values is one lake
transaction (ingest/writer.py), so a burst of ~1 MiB messages never holds more than the byte
bound. Consumer-group offsets are committed after each batch: Kafka's lag tools read them, and
so does the ingest sensor, to find ranges no run stored. A failed group commit never fails the
run (the lake holds the truth).

A partition the ledger has never seen starts at the earliest offset Kafka still has, whatever
the requested start: a first run that failed for good must not leave its range behind the
next run's. A ledger ahead of the topic's end offset means the topic was recreated (or its
offsets reset): the ledger is rewound so the new messages are stored, with a warning.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    Record,
    append_ledger,
    ledger_rows,
    merge_part,
    prepare_batch,
    read_ledger,
)
from analytics_pipeline.settings import Settings
from analytics_pipeline.warehouse.connection import retry_conflicts
from analytics_pipeline.warehouse.partition_locks import PartitionLocks

INGEST_DUCKDB_MEMORY_LIMIT = "256MB"
# DuckDB takes the GIL back many times per statement (to check for signals); with the polling
# thread busy in Python each take waits for the 5 ms default switch interval, which made the
# writer thread 2-4x slower. A short interval while ingesting removes that wait.
INGEST_SWITCH_INTERVAL_S = 0.0005
# Messages validated at a time on the writer thread while the next ones are polled.
STAGE_PART = 25_000
# ... and at most this many bytes of values: the part being polled and the part being written
# are what the run holds in Python at a time, and validating a part expands each value into
# several columns inside DuckDB: 8 MiB parts of ~900 kB messages ran out of its 256 MB (the
# validation holds ~30 copies of a part at once), 4 MiB parts did not.
STAGE_PART_BYTES = 4 * 1024 * 1024


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
    lost_by_partition: dict[int, int] = field(default_factory=dict)
    rewound: dict[int, int] = field(default_factory=dict)  # partition: ledger before the rewind
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


@dataclass(frozen=True)
class IngestOptions:
    """How one `ingest_ranges` call reads and stores, handed unchanged to each pass (its
    arguments, whose defaults are `ingest_ranges`'s)."""

    kind: Kind
    max_batch: int
    max_batch_bytes: int
    topic_ends: Mapping[int, int] | None
    stall_timeout_s: float
    commit_offsets: bool
    progress: Callable[[IngestReport], None] | None
    warn: Callable[[str], None] | None
    part_size: int
    part_bytes: int
    # The partitions' locks (warehouse/partition_locks.py): each batch holds its partitions'.
    locks: PartitionLocks

    def __post_init__(self) -> None:
        if self.max_batch_bytes <= 0:
            raise ValueError("max_batch_bytes must be positive")


def ingest_ranges(
    consumer,  # kafka.KafkaConsumer, already configured; closed by the caller
    conn: duckdb.DuckDBPyConnection,
    *,
    kind: Kind,
    topic: str,
    ranges: Sequence[OffsetRange],
    max_batch: int,
    max_batch_bytes: int = Settings.ingest_max_batch_bytes,
    topic_ends: Mapping[int, int] | None = None,
    stall_timeout_s: float = 30.0,
    commit_offsets: bool = True,
    progress: Callable[[IngestReport], None] | None = None,
    warn: Callable[[str], None] | None = None,
    part_size: int = STAGE_PART,
    part_bytes: int = STAGE_PART_BYTES,
    locks: PartitionLocks | None = None,
) -> IngestReport:
    """Read `ranges` of `topic` and store them batch by batch; returns what happened.

    After each batch's transaction the consumer group's offsets are committed too (unless
    `commit_offsets` is off), so standard Kafka lag tools see the progress. A batch is
    validated `part_size` messages at a time while the next part is polled. A batch whose
    commit conflicts with another writer's (two runs of the same offsets) is rolled back and
    read again from the ledger after a back-off, reported through `warn`: the batches
    committed before it stay, and what the other writer stored is skipped. `topic_ends` (the
    topic's end offsets, as the caller read them) lets the run notice a recreated topic.
    """
    # The partitions' locks (warehouse/partition_locks.py), on a catalog session of their own;
    # a caller that ingests again and again (the live tail) passes its own and closes it.
    own_locks = locks is None
    locks = locks or PartitionLocks.for_connection(conn)
    options = IngestOptions(
        kind=kind,
        max_batch=max_batch,
        max_batch_bytes=max_batch_bytes,
        topic_ends=topic_ends,
        stall_timeout_s=stall_timeout_s,
        commit_offsets=commit_offsets,
        progress=progress,
        warn=warn,
        part_size=part_size,
        part_bytes=part_bytes,
        locks=locks,
    )
    report = IngestReport(topic=topic, requested=list(ranges))
    try:
        with _ingest_settings(conn):
            return _ingest(consumer, conn, report, options)
    finally:
        if own_locks:
            locks.close()


_settings_lock = threading.Lock()
_ingesting = 0
_restore: str | None = None


@contextmanager
def _ingest_settings(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Bound DuckDB's share of the process's memory while ingesting (a chunk that needs more
    spills to disk); put back afterwards, as the journeys step after the raw steps needs more
    for batches of large values. The setting is the process's: ingests that overlap in one
    process (writers side by side in a test, a reader's thread) set it when the first starts
    and put it back when the last ends.

    Not `SET threads`, though one DuckDB thread measured 10.6 CPU-s per bench run instead of
    13.1 (issue 16): it stops and joins DuckDB's worker threads, and a query running on one of
    them that cleans up a nested DuckLake catalog query waits for the same lock, so the two wait
    for each other for ever (seen: three writers and a journeys step in one process, 1 run in
    11). The live tail sets it once, before anything else runs."""
    global _ingesting, _restore
    with _settings_lock:
        if not _ingesting:
            limit = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
            conn.execute(f"SET memory_limit = '{INGEST_DUCKDB_MEMORY_LIMIT}'")
            _restore = limit
        _ingesting += 1
    try:
        yield
    finally:
        with _settings_lock:
            _ingesting -= 1
            if not _ingesting and _restore is not None:
                conn.execute(f"SET memory_limit = '{_restore}'")
                _restore = None


def _ingest(
    consumer, conn: duckdb.DuckDBPyConnection, report: IngestReport, options: IngestOptions
) -> IngestReport:
    topic, topic_ends, warn = report.topic, options.topic_ends, options.warn
    # The ledger as committed: read once for the rewind check and the first pass (a rewind,
    # or a pass retried after a commit conflict, reads it again).
    ledger: list[dict[int, int]] = []
    if topic_ends:
        unchanged = retry_conflicts(
            partial(_rewind_recreated, conn, report, topic_ends, warn, options.locks),
            what=f"rewinding the ledger of {topic}",
            on_retry=warn,
        )
        if unchanged is not None:
            ledger.append(unchanged)
    attempt = [0]

    def store() -> None:
        attempt[0] += 1
        _read_and_store(
            consumer, conn, report, ledger.pop() if ledger else read_ledger(conn, topic), options
        )

    retry_conflicts(store, what=f"storing a batch of {topic}", on_retry=warn)
    report.conflicts_retried = attempt[0] - 1
    return report


def _rewind_recreated(
    conn: duckdb.DuckDBPyConnection,
    report: IngestReport,
    topic_ends: Mapping[int, int],
    warn: Callable[[str], None] | None,
    locks: PartitionLocks,
) -> dict[int, int] | None:
    """Rewind the ledger of partitions whose topic now ends below it (one transaction);
    returns the ledger it read when nothing needed a rewind, else None."""
    ledger = read_ledger(conn, report.topic)
    ahead = {p: o for p, o in ledger.items() if p in topic_ends and o > topic_ends[p]}
    if not ahead:
        return ledger
    # An appended ledger row at 0, under the partitions' locks, from the ledger as committed.
    with locks.hold(report.topic, ahead):
        conn.execute("BEGIN TRANSACTION")
        try:
            rows = ledger_rows(conn, report.topic, ahead)
            rewind = {p: 0 for p, (o, _) in rows.items() if o > topic_ends[p]}
            append_ledger(
                conn,
                topic=report.topic,
                offsets=rewind,
                seqs={p: s for p, (_, s) in rows.items()},
                now=_now(),
                batch_id=None,
            )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                conn.execute("ROLLBACK")
            raise
    report.rewound.update(ahead)
    if warn is not None:
        for partition, was in sorted(ahead.items()):
            warn(
                f"{report.topic} partition {partition} ends at offset {topic_ends[partition]}, "
                f"below the ledger's {was}: the topic was recreated or its offsets were reset. "
                "The ledger is rewound and the partition ingested from its earliest offset; "
                "event_ids already stored are not stored again."
            )
    return None


def _commit_group(
    consumer,
    report: IngestReport,
    offsets: Mapping[int, int],
    warn: Callable[[str], None] | None,
) -> None:
    """Tell Kafka how far the lake got; a failure is a warning (the lake holds the truth)."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    if not offsets:
        return
    try:
        consumer.commit(
            {
                TopicPartition(report.topic, p): OffsetAndMetadata(o, "", -1)
                for p, o in offsets.items()
            }
        )
    except Exception as error:
        report.group_commit_failures += 1
        if warn is not None:
            warn(
                f"{report.topic}: the batch is stored, but committing the consumer group's "
                f"offsets failed ({type(error).__name__}: {error}); Kafka lag tools lag "
                "behind, and the ingest sensor may request the range again (harmless: the "
                "run starts from the lake's ledger)"
            )


def _read_and_store(
    consumer,
    conn: duckdb.DuckDBPyConnection,
    report: IngestReport,
    ledger: Mapping[int, int],
    options: IngestOptions,
) -> None:
    """One pass of `ingest_ranges` from `ledger`, the ledger as committed now."""
    from kafka import TopicPartition

    kind, max_batch, max_batch_bytes = options.kind, options.max_batch, options.max_batch_bytes
    commit_offsets, progress, warn = options.commit_offsets, options.progress, options.warn
    stall_timeout_s = options.stall_timeout_s

    topic, ranges = report.topic, report.requested
    ledger = dict(ledger)
    # A partition the ledger has never seen starts at 0 (see the module docstring).
    todo = effective_ranges(ranges, {r.partition: ledger.get(r.partition, 0) for r in ranges})
    if not report.read:
        report.read = todo
    if commit_offsets:
        # Partitions this run has nothing to read for: stored already, perhaps by a run whose
        # group commit failed. Committing them tells the sensor they are covered.
        covered = {r.partition for r in todo}
        _commit_group(
            consumer,
            report,
            {
                r.partition: ledger[r.partition]
                for r in ranges
                if r.partition not in covered and r.partition in ledger
            },
            warn,
        )
    if not todo:
        return
    partitions = {r.partition: TopicPartition(topic, r.partition) for r in todo}
    ends = {r.partition: r.end for r in todo}
    consumer.assign(list(partitions.values()))
    # kafka-python keeps a partition paused across assign() calls: a consumer used for a second
    # call would otherwise never fetch a partition an earlier call finished with.
    consumer.resume(*partitions.values())
    earliest = consumer.beginning_offsets(list(partitions.values()))
    for r in todo:
        tp = partitions[r.partition]
        start = max(r.start, earliest.get(tp, 0))
        lost = min(start, r.end) - r.start
        if lost > 0:
            report.lost_to_retention += lost
            report.lost_by_partition[r.partition] = (
                report.lost_by_partition.get(r.partition, 0) + lost
            )
        consumer.seek(tp, start)

    part: list[Record] = []
    part_size = min(options.part_size, max_batch)
    part_bytes = min(options.part_bytes, max_batch_bytes)
    held, batch_bytes = 0, 0  # bytes of values in `part`, and in the batch's earlier parts
    seen = [0, 0]  # records and bytes read so far, for the mean record size

    def new_writer() -> BatchWriter:
        # Holds the pass's partitions while a batch is open; `ledger` follows its commits.
        return BatchWriter(
            conn, kind, _now(), locks=options.locks, partitions=partitions, expected=ledger
        )

    batch, batch_size, writing = BatchResult(topic=topic), 0, new_writer()
    positions = {p: consumer.position(tp) for p, tp in partitions.items()}
    active = {p for p in partitions if positions[p] < ends[p]}
    last_progress = time.monotonic()

    def committed(result: BatchResult, batch_ends: dict[int, int]) -> None:
        """Runs once a batch's transaction is durable: report it, then tell Kafka."""
        report.add(result)
        if commit_offsets:
            _commit_group(consumer, report, batch_ends, warn)
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
                # By bytes too: as many records as the byte bounds leave room for, at the mean
                # size seen so far (one record until a size is known).
                room_bytes = min(part_bytes - held, max_batch_bytes - batch_bytes - held)
                # (nothing seen yet: one record; only empty values: no byte limit)
                fits = room_bytes * seen[0] // seen[1] if seen[1] else (room if seen[0] else 1)
                polled = consumer.poll(timeout_ms=500, max_records=max(1, min(room, fits)))
                for tp, messages in polled.items():
                    end = ends[tp.partition]
                    # Offsets ascend within a partition: usually every message is in range.
                    # The polled records themselves go into the part (no copy per message).
                    if messages and messages[-1].offset >= end:
                        messages = [m for m in messages if m.offset < end]
                    size = sum(len(m.value) for m in messages if m.value)
                    part.extend(messages)
                    held += size
                    seen[0], seen[1] = seen[0] + len(messages), seen[1] + size
                for p in list(active):
                    positions[p] = consumer.position(partitions[p])
                    if positions[p] >= ends[p]:
                        active.discard(p)
                        consumer.pause(partitions[p])
                if polled:
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > stall_timeout_s:
                    raise _stalled(topic, stall_timeout_s, positions, ends, active)
                batch_done = (
                    batch_size + len(part) >= max_batch
                    or batch_bytes + held >= max_batch_bytes
                    or not active
                )
                # The last part carries the batch's end offsets, so the ledger also moves past
                # offsets that hold no message.
                batch_ends = (
                    {p: min(positions[p], ends[p]) for p in partitions} if batch_done else None
                )
                if len(part) >= part_size or held >= part_bytes or batch_done:
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
                    batch_bytes, held = batch_bytes + held, 0
                    writer.submit(partial(writing.add, prepared))
                if batch_done:
                    writer.submit(
                        partial(writing.commit, batch),
                        then=partial(committed, batch_ends=batch_ends),
                    )
                    batch, batch_size, batch_bytes = BatchResult(topic=topic), 0, 0
                    writing = new_writer()
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
