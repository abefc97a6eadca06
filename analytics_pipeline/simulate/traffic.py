"""Portal traffic as one time-ordered stream of events: pure, deterministic, no I/O.

Every person draws a persona and a whole journey from their own random generator
(`seed/index`), so the same seed gives the same people, events and event ids, and a run
with more users only adds people. Journeys are generated lazily when a person arrives and
merged by time, so memory holds only the people active at the moment being emitted.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from analytics_pipeline.simulate.journey import DAY_MS, MINUTE_MS, Ids, Journey, TimeScale
from analytics_pipeline.simulate.model import (
    SimEvent,
    datetime_to_ms,
    format_ms,
    ms_to_datetime,
)
from analytics_pipeline.simulate.personas import SCRIPTS, choose_persona

# Live mode starts as if the simulated product had been running this long already, so the
# event rate is steady from the first second (people who arrived earlier are mid-journey).
LIVE_WARMUP_MS = 20 * MINUTE_MS
_CALIBRATION_USERS = 400


@dataclass(frozen=True, slots=True)
class Person:
    """One simulated person: who they are and their events (in the window asked for)."""

    index: int
    persona: str
    user_id: str
    events: list[SimEvent]
    times_ms: list[int]  # events[i].ts in milliseconds since the epoch


def default_start(days: int, today: date | None = None) -> date:
    """History ends today: the window starts `days - 1` days before today (UTC)."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=days - 1)


def history_namespace(seed: int, start: date) -> str:
    return f"{seed}-{start:%Y%m%d}"


def live_namespace(seed: int, anchor: datetime) -> str:
    return f"{seed}-L{anchor.astimezone(UTC):%Y%m%dT%H%M%S}"


@dataclass(frozen=True, slots=True)
class Script:
    """A person's journey before it becomes `SimEvent`s: (ts_ms, seq, kind, key, value), sorted.

    Values get their `event_id` and `ts` only when emitted, which keeps the people waiting
    in the merge small.
    """

    index: int
    persona: str
    user_id: str
    event_id_prefix: str
    entries: list[Any]


def script_person(
    seed: int, index: int, namespace: str, arrival_ms: int, scale: TimeScale
) -> Script:
    """Draw one person's persona and script their whole journey from `seed/index`."""
    rng = random.Random(f"{seed}/{index}")
    persona = choose_persona(rng)
    journey = Journey(rng, Ids(namespace, index), arrival_ms, scale)
    SCRIPTS[persona](journey)
    entries = sorted(journey.events, key=lambda e: (e[0], e[1]))
    if entries and entries[0][0] < arrival_ms:
        raise AssertionError(f"person {index} has an event before their arrival")
    return Script(index, persona, journey.user_id, f"e-{namespace}-{index}-", entries)


def _finish(script: Script, n: int) -> SimEvent:
    """Entry n of a script as the event on the wire: id `e-<namespace>-<person>-<n>`."""
    ts_ms, _, kind, key, value = script.entries[n]
    value["event_id"] = script.event_id_prefix + str(n)
    value["ts"] = format_ms(ts_ms)
    return SimEvent(kind, key.encode(), value, ms_to_datetime(ts_ms))


def simulate_person(
    seed: int,
    index: int,
    namespace: str,
    arrival_ms: int,
    scale: TimeScale,
    not_before_ms: int | None = None,
    not_after_ms: int | None = None,
) -> Person:
    """One person's events in time order, within the window [not_before, not_after).

    Event ids are `e-<namespace>-<person>-<n>`: unique per run across both topics, and
    identical whenever the same seed and namespace are simulated again. Events are numbered
    before the window is applied, so a window never changes ids.
    """
    script = script_person(seed, index, namespace, arrival_ms, scale)
    events, times = [], []
    for n, entry in enumerate(script.entries):
        if not_before_ms is not None and entry[0] < not_before_ms:
            continue
        if not_after_ms is not None and entry[0] >= not_after_ms:
            break
        events.append(_finish(script, n))
        times.append(entry[0])
    return Person(index, script.persona, script.user_id, events, times)


def _merge(
    arrivals: Iterable[tuple[int, int]],
    build: Callable[[int, int], Script],
    not_before_ms: int | None,
    not_after_ms: int | None,
) -> Iterator[SimEvent]:
    """Merge people's scripts by (ts, person, n); `arrivals` must be sorted by time.

    A person's events all happen at or after their arrival, so a person only needs to be
    scripted once the merge reaches their arrival time. Emits events in
    [not_before, not_after) and lets go of each value once emitted.
    """
    heap: list[tuple[int, int, int, Script]] = []
    pending = iter(arrivals)
    upcoming = next(pending, None)
    while heap or upcoming is not None:
        while upcoming is not None and (not heap or upcoming[0] <= heap[0][0]):
            arrival_ms, index = upcoming
            script = build(arrival_ms, index)
            entries = script.entries
            first = 0
            if not_before_ms is not None:
                while first < len(entries) and entries[first][0] < not_before_ms:
                    first += 1
            if first < len(entries):
                heapq.heappush(heap, (entries[first][0], index, first, script))
            upcoming = next(pending, None)
        if not heap:
            continue
        ts_ms, index, position, script = heap[0]
        if not_after_ms is not None and ts_ms >= not_after_ms:
            return  # everything queued, and everyone arriving later, is later still
        yield _finish(script, position)
        script.entries[position] = None  # emitted: the consumer owns the value now
        position += 1
        if position < len(script.entries):
            heapq.heapreplace(heap, (script.entries[position][0], index, position, script))
        else:
            heapq.heappop(heap)


def generate_traffic(
    users: int,
    days: int,
    seed: int,
    start: date | None = None,
    *,
    until: datetime | None = None,
) -> Iterator[SimEvent]:
    """History: `users` people arriving over `days` days from `start` (00:00 UTC).

    Events after the window (or after `until`, when given, e.g. "now") are left out, so no
    event lies in the future. Ordered by `ts`; same arguments, same events.
    """
    if users < 0 or days < 1:
        raise ValueError("users must be >= 0 and days >= 1")
    start = start or default_start(days)
    start_ms = datetime_to_ms(datetime(start.year, start.month, start.day, tzinfo=UTC))
    end_ms = start_ms + days * DAY_MS
    if until is not None:
        end_ms = max(start_ms + 1, min(end_ms, datetime_to_ms(until)))
    namespace = history_namespace(seed, start)
    scale = TimeScale()
    arrival_rng = random.Random(f"{seed}/arrivals")
    span = end_ms - start_ms
    arrivals = sorted((start_ms + int(arrival_rng.random() * span), i) for i in range(users))

    def build(arrival_ms: int, index: int) -> Script:
        return script_person(seed, index, namespace, arrival_ms, scale)

    return _merge(arrivals, build, None, end_ms)


def mean_events_per_person(seed: int, scale: TimeScale, people: int = _CALIBRATION_USERS) -> float:
    """Average journey length, used to turn an events-per-second rate into arrivals."""
    total = sum(
        len(script_person(seed, -1 - i, "calibration", 0, scale).entries) for i in range(people)
    )
    return max(1.0, total / people)


def generate_live_traffic(
    rate: float, seed: int, anchor: datetime, *, warmup_ms: int = LIVE_WARMUP_MS
) -> Iterator[SimEvent]:
    """Endless traffic from `anchor` on at about `rate` events/s, in compressed persona time.

    People arrive as a Poisson process; the stream starts as if it had been running for
    `warmup_ms` (earlier events are not emitted), so the rate holds from the first second.
    Timestamps are `anchor` + simulated time: pace the stream to send them as "now".
    """
    if rate <= 0:
        raise ValueError("rate must be > 0")
    scale = TimeScale.live()
    namespace = live_namespace(seed, anchor)
    anchor_ms = datetime_to_ms(anchor)
    mean_gap_ms = mean_events_per_person(seed, scale) / rate * 1000

    def arrivals() -> Iterator[tuple[int, int]]:
        rng = random.Random(f"{seed}/live-arrivals")
        at = float(anchor_ms - warmup_ms)
        index = 0
        while True:
            at += rng.expovariate(1.0 / mean_gap_ms)
            yield int(at), index
            index += 1

    def build(arrival_ms: int, index: int) -> Script:
        return script_person(seed, index, namespace, arrival_ms, scale)

    return _merge(arrivals(), build, anchor_ms, None)
