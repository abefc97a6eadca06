"""The generated stream: deterministic by seed, time-ordered, unique ids, valid wire format."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise

from analytics_pipeline.simulate.model import SimEvent
from analytics_pipeline.simulate.traffic import generate_live_traffic, generate_traffic
from analytics_pipeline_tests.simulate.conftest import SAMPLE_ARGS, SAMPLE_START
from analytics_pipeline_tests.simulate.ingest_check import ingest_reasons
from analytics_pipeline_tests.simulate.wire_check import problems


def _fingerprint(events: list[SimEvent]) -> list[tuple[str, bytes, str, datetime]]:
    return [(e.kind, e.key, json.dumps(e.value, sort_keys=True), e.ts) for e in events]


def test_same_seed_gives_identical_events(history_sample: list[SimEvent]) -> None:
    again = list(generate_traffic(**SAMPLE_ARGS))
    assert _fingerprint(again) == _fingerprint(history_sample)


def test_different_seed_gives_different_events(history_sample: list[SimEvent]) -> None:
    other = list(generate_traffic(**{**SAMPLE_ARGS, "seed": 12}))
    ours = {json.dumps(e.value, sort_keys=True) for e in history_sample}
    theirs = {json.dumps(e.value, sort_keys=True) for e in other}
    assert len(ours & theirs) < len(ours) * 0.01


def test_more_users_only_adds_people(history_sample: list[SimEvent]) -> None:
    """Growing --users keeps every event of the smaller run, byte for byte."""
    fewer = list(generate_traffic(**{**SAMPLE_ARGS, "users": 150}))
    ours = {json.dumps(e.value, sort_keys=True) for e in history_sample}
    assert fewer
    assert all(json.dumps(e.value, sort_keys=True) in ours for e in fewer)


def test_events_come_out_ordered_by_timestamp(history_sample: list[SimEvent]) -> None:
    assert all(a.ts <= b.ts for a, b in pairwise(history_sample))
    assert all(
        e.value["ts"] == e.ts.isoformat(timespec="milliseconds")[:-6] + "Z" for e in history_sample
    )


def test_events_stay_inside_the_history_window(history_sample: list[SimEvent]) -> None:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    assert min(e.ts for e in history_sample) >= start
    assert max(e.ts for e in history_sample) < start + timedelta(days=45)
    # People arrive all over the window, not only at its start.
    days_with_signups = {
        e.ts.date()
        for e in history_sample
        if e.value["type"] == "api_request" and e.value["request"]["path"] == "/auth/signup"
    }
    assert len(days_with_signups) >= 40


def test_event_ids_are_unique_per_topic(history_sample: list[SimEvent]) -> None:
    for kind in ("clickstream", "backend"):
        ids = [e.value["event_id"] for e in history_sample if e.kind == kind]
        assert ids and len(ids) == len(set(ids))


def test_every_generated_event_follows_the_wire_format(history_sample: list[SimEvent]) -> None:
    broken = [(e.value, p) for e in history_sample if (p := problems(e.kind, e.value))]
    assert broken == []


def test_ingestion_validator_accepts_every_generated_event(
    history_sample: list[SimEvent],
) -> None:
    now = datetime(2026, 10, 16, tzinfo=UTC)
    for kind in ("clickstream", "backend"):
        values = [e.value for e in history_sample if e.kind == kind]
        reasons = ingest_reasons(kind, [json.dumps(v).encode() for v in values], now)
        assert [(v, r) for v, r in zip(values, reasons, strict=True) if r] == []


def test_keys_are_the_browser_or_the_user(history_sample: list[SimEvent]) -> None:
    """Clickstream is keyed by anonymous id, backend by user id (anonymous id if none)."""
    for event in history_sample:
        value = event.value
        if event.kind == "clickstream":
            assert event.key == value["anonymous_id"].encode()
        elif value["user_id"] is not None:
            assert event.key == value["user_id"].encode()


def test_every_event_type_and_journey_rule_is_exercised(history_sample: list[SimEvent]) -> None:
    from analytics_pipeline.events.actions import ACTIONS, action_for

    types = Counter(e.value["type"] for e in history_sample)
    assert set(types) == {
        "page_view",
        "click",
        "visibility_change",
        "resize",
        "identify",
        "api_request",
        "deployment",
    }
    actions = Counter()
    for event in history_sample:
        value = event.value
        request = value.get("request") or {}
        actions[
            action_for(
                source=event.kind,
                type=value["type"],
                method=request.get("method"),
                path=request.get("path"),
                status=request.get("status"),
                deployment_status=(value.get("deployment") or {}).get("status"),
            )
        ] += 1
    assert all(actions[action] >= 10 for action in ACTIONS), actions
    methods = Counter(
        e.value["request"]["method"] for e in history_sample if e.value["type"] == "api_request"
    )
    assert methods["GET"] > methods["POST"] > 0


def test_default_history_ends_now_and_never_in_the_future() -> None:
    now = datetime.now(UTC)
    events = list(generate_traffic(60, 3, 4, until=now))
    assert events
    assert max(e.ts for e in events) <= now
    assert min(e.ts.date() for e in events) >= now.date() - timedelta(days=2)


def test_explicit_start_is_the_first_day() -> None:
    events = list(generate_traffic(30, 2, 4, start=date(2026, 3, 1)))
    assert {e.ts.date() for e in events} <= {date(2026, 3, 1), date(2026, 3, 2)}
    assert SAMPLE_START.isoformat() not in events[0].value["event_id"]


def test_live_traffic_starts_at_the_anchor_and_runs_on() -> None:
    anchor = datetime(2026, 11, 1, 12, tzinfo=UTC)
    events = list(islice(generate_live_traffic(50, 3, anchor), 3000))
    assert events[0].ts >= anchor
    assert all(a.ts <= b.ts for a, b in pairwise(events))
    span = (events[-1].ts - events[0].ts).total_seconds()
    # ~50 events/s: 3000 events take about a minute of simulated time.
    assert 30 <= span <= 120, span
    assert not [e.value for e in events if problems(e.kind, e.value)]
    ids = [e.value["event_id"] for e in events]
    assert len(ids) == len(set(ids))
