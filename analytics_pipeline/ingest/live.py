"""The live tail: an ingest run that keeps taking new messages for a bounded time.

Dagster's sensor loop starts an evaluation at most every 5 s, and every run has a fixed start
cost, so a pipeline that waits for a sensor tick and a new run per message cannot answer in a
few seconds. After its planned ranges, an ingest run therefore stays on its topics: it asks
Kafka for the end offsets every `poll_interval_s`, and whatever landed since is one
micro-batch (`step`): stored, turned into journeys, its alert rules evaluated and its alerts
posted, as the run's own steps do. It ends after `max_seconds`, or after `idle_seconds`
without a message, and the ingest sensor plans the next run from what the runs committed.

Its rule, in the terms of "a run does what it was planned for": every partition of the run's
topics, from the offsets the lake's ledger holds when the tail starts, up to whatever lands
before it ends. Each range it takes is recorded (`LiveReport.taken`); exactly once still rests
on the ledger, written in each micro-batch's transaction, so nothing it takes is stored twice.
Pure: Kafka and the lake reach it through the functions it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from analytics_pipeline.ingest.ranges import OffsetRange

Offsets = dict[str, dict[int, int]]  # {topic: {partition: offset}}


@dataclass
class LiveReport:
    """What a live tail took: its micro-batches, and per topic and partition the offsets."""

    batches: int = 0
    messages: int = 0
    seconds: float = 0.0
    ended_by: str = ""  # "deadline" or "idle"
    taken: dict[str, dict[int, list[int]]] = field(default_factory=dict)  # [first, end)

    def record(self, ranges: Mapping[str, list[OffsetRange]]) -> None:
        self.batches += 1
        for topic, topic_ranges in ranges.items():
            for r in topic_ranges:
                self.messages += r.size
                span = self.taken.setdefault(topic, {}).setdefault(r.partition, [r.start, r.end])
                span[0], span[1] = min(span[0], r.start), max(span[1], r.end)


def new_ranges(
    known: Mapping[str, Mapping[int, int]], ends: Offsets
) -> dict[str, list[OffsetRange]]:
    """What landed beyond `known`, per topic (a partition new to `known` starts at 0)."""
    ranges: dict[str, list[OffsetRange]] = {}
    for topic, topic_ends in ends.items():
        for partition, end in sorted(topic_ends.items()):
            start = known.get(topic, {}).get(partition, 0)
            if end > start:
                ranges.setdefault(topic, []).append(OffsetRange(partition, start, end))
    return ranges


def follow(
    known: Offsets,
    *,
    end_offsets: Callable[[], Offsets],
    step: Callable[[dict[str, list[OffsetRange]]], None],
    max_seconds: float,
    idle_seconds: float,
    poll_interval_s: float,
    min_batch_interval_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> LiveReport:
    """Take each new range as one micro-batch until `max_seconds`, or `idle_seconds` idle.

    A micro-batch starts at most every `min_batch_interval_s` (messages landing meanwhile join
    the next one), which bounds what a steady stream costs. `known` moves past each range taken.
    """
    report = LiveReport()
    started = clock()
    deadline = started + max_seconds
    last_message = last_batch = started
    while True:
        now = clock()
        if now >= deadline:
            report.ended_by = "deadline"
            break
        if now - last_message >= idle_seconds:
            report.ended_by = "idle"
            break
        ranges = new_ranges(known, end_offsets())
        if not ranges:
            sleep(min(poll_interval_s, max(0.0, deadline - now)))
            continue
        wait = last_batch + min_batch_interval_s - clock()
        if wait > 0:
            sleep(wait)
            ranges = new_ranges(known, end_offsets())  # what landed during the wait joins in
        last_batch = clock()
        step(ranges)
        report.record(ranges)
        for topic, topic_ranges in ranges.items():
            for r in topic_ranges:
                known.setdefault(topic, {})[r.partition] = r.end
        last_message = clock()
    report.seconds = clock() - started
    return report
