"""Offset ranges: what the sensor plans from end offsets alone, and where a run starts.

The sensor splits what is new on the topics into bounded runs (`plan_topic_runs`, pure) with
deterministic run keys; a run then starts each partition at the warehouse ledger
(`effective_ranges`), so a range already stored is skipped and a range left behind by a
failed run is picked up by the next one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class OffsetRange:
    """Offsets [start, end) of one partition."""

    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


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
