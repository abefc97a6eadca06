"""The live tail's loop (ingest/live.py), on a scripted clock and topic: what it takes, when,
and when it ends. The real path (Kafka, lake, Slack stub) is in test_live_tail.py."""

from __future__ import annotations

import itertools

from analytics_pipeline.ingest.live import follow, new_ranges
from analytics_pipeline.ingest.ranges import OffsetRange


class Script:
    """A clock that sleeping moves, and a topic whose end offsets follow a timetable."""

    def __init__(self, timetable: list[tuple[float, dict[int, int]]]) -> None:
        self.now = 0.0
        self.timetable = timetable  # (from this time on, {partition: end offset})
        self.steps: list[tuple[float, dict[str, list[OffsetRange]]]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def ends(self) -> dict[str, dict[int, int]]:
        current = {}
        for at, ends in self.timetable:
            if at <= self.now:
                current = ends
        return {"t": dict(current)}

    def step(self, ranges: dict[str, list[OffsetRange]]) -> None:
        self.steps.append((self.now, ranges))
        self.now += 0.3  # a micro-batch's work


def run(script: Script, known: dict, **overrides: float):
    options = dict(
        max_seconds=60.0, idle_seconds=10.0, poll_interval_s=0.2, min_batch_interval_s=1.0
    )
    options.update(overrides)
    return follow(
        known,
        end_offsets=script.ends,
        step=script.step,
        clock=script.clock,
        sleep=script.sleep,
        **options,
    )


def test_new_ranges_start_where_the_ledger_stands_and_at_zero_on_a_new_partition():
    assert new_ranges({"t": {0: 5}}, {"t": {0: 7, 1: 2}, "u": {0: 0}}) == {
        "t": [OffsetRange(0, 5, 7), OffsetRange(1, 0, 2)]
    }
    assert new_ranges({"t": {0: 7}}, {"t": {0: 7}}) == {}


def test_each_message_is_taken_once_from_the_ledger_and_soon_after_it_lands():
    script = Script([(0, {0: 5}), (2.05, {0: 6}), (5.0, {0: 8})])
    known = {"t": {0: 5}}
    report = run(script, known, idle_seconds=4.0)

    assert [(round(at, 1), r) for at, r in script.steps] == [
        (2.2, {"t": [OffsetRange(0, 5, 6)]}),
        (5.1, {"t": [OffsetRange(0, 6, 8)]}),  # the next poll after it lands
    ]
    assert known == {"t": {0: 8}}
    assert (report.batches, report.messages, report.taken) == (2, 3, {"t": {0: [5, 8]}})
    assert report.ended_by == "idle" and 9.0 <= report.seconds <= 9.6


def test_a_steady_stream_gets_at_most_one_micro_batch_per_interval():
    # One message every 0.1 s for 5 s.
    script = Script([(i / 10, {0: i + 1}) for i in range(50)])
    report = run(script, {"t": {0: 0}}, max_seconds=6.0, idle_seconds=2.0)
    starts = [at for at, _ in script.steps]
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(starts))
    assert report.messages == 50 and report.batches <= 6


def test_the_tail_ends_at_its_deadline_even_under_traffic():
    script = Script([(i / 2, {0: i + 1}) for i in range(200)])
    report = run(script, {"t": {0: 0}}, max_seconds=10.0)
    assert report.ended_by == "deadline" and report.seconds < 11.0


def test_a_quiet_topic_ends_the_tail_after_the_idle_time_without_a_batch():
    script = Script([(0, {0: 3})])
    report = run(script, {"t": {0: 3}}, idle_seconds=5.0)
    assert (report.ended_by, report.batches, script.steps) == ("idle", 0, [])
    assert 5.0 <= report.seconds <= 5.4
