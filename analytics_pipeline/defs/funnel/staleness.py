"""Which funnel partitions are stale: pure bookkeeping for the staleness sensor.

The funnel of day D depends on everything up to D, so a journeys run that changed day d
(metadata `funnel_stale_from = d`, event-log storage id s) makes every partition D >= d
stale whose latest materialisation is older than s (storage id < s).

`Touches` keeps, per day, the newest journeys change from that day on. A new touch (d, s)
makes every older touch from a day >= d redundant (s is newer and covers more days), so the
list stays short (at most one entry per day) and fits in the sensor cursor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

Touch = tuple[str, int]  # (ISO day, storage id of the journeys materialisation)


def add_touch(touches: Iterable[Touch], day: str, storage_id: int) -> list[Touch]:
    """`touches` plus (day, storage_id), without the entries it makes redundant."""
    kept = [(d, s) for d, s in touches if not (d >= day and s <= storage_id)]
    if any(d <= day and s >= storage_id for d, s in kept):
        return sorted(kept)
    return sorted([*kept, (day, storage_id)])


def newest_touch_covering(touches: Iterable[Touch], partition: str) -> int | None:
    """Storage id of the newest change that affects `partition` (a day >= its day)."""
    ids = [s for d, s in touches if d <= partition]
    return max(ids) if ids else None


def stale_partitions(touches: Iterable[Touch], materialised: Mapping[str, int]) -> list[str]:
    """Materialised partitions (key -> latest storage id) older than a change covering them."""
    touches = list(touches)
    stale = []
    for partition, storage_id in materialised.items():
        newest = newest_touch_covering(touches, partition)
        if newest is not None and newest > storage_id:
            stale.append(partition)
    return sorted(stale)


def contiguous_ranges(partitions: Iterable[str]) -> list[tuple[str, str]]:
    """Sorted ISO days grouped into (first, last) runs of consecutive days."""
    ranges: list[tuple[str, str]] = []
    for key in sorted(set(partitions)):
        if ranges and date.fromisoformat(ranges[-1][1]) + timedelta(days=1) == date.fromisoformat(
            key
        ):
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


@dataclass
class StalenessCursor:
    """Sensor cursor: journeys events read so far, live touches, and the last stale report."""

    after_storage_id: int = 0
    touches: list[Touch] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str | None) -> StalenessCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            after_storage_id=int(data.get("after", 0)),
            touches=[(str(d), int(s)) for d, s in data.get("touches", [])],
            reported=[str(p) for p in data.get("reported", [])],
        )

    def dump(self) -> str:
        return json.dumps(
            {"after": self.after_storage_id, "touches": self.touches, "reported": self.reported},
            separators=(",", ":"),
        )
