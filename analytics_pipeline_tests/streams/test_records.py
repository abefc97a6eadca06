"""The stream records of SPEC §10, built without Kafka or a lake."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from analytics_pipeline.streams.records import (
    ActionRow,
    IdentityChange,
    action_key,
    build_publish,
    format_ts,
    stage_record,
)

T0 = datetime(2026, 11, 1, 10, 0, 0, 123000, tzinfo=UTC)


def row(event_id: str, ts: datetime, user: str | None = None, anon: str | None = None, **kw):
    return ActionRow(
        source_topic=kw.get("topic", "portal-backend"),
        event_id=event_id,
        user_id=user,
        anonymous_id=anon,
        ts=ts,
        action=kw.get("action", "code_run"),
        details=kw.get("details"),
        user_via_identity=kw.get("via", False),
        source_partition=2,
        source_offset=41,
    )


def test_times_are_utc_with_z_and_microseconds():
    assert format_ts(T0) == "2026-11-01T10:00:00.123000Z"
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    assert format_ts(plus_two) == "2026-11-01T10:00:00.123000Z"
    with pytest.raises(ValueError, match="time zone"):
        format_ts(datetime(2026, 11, 1))


def test_keys_cannot_collide_between_users_browsers_and_events():
    assert action_key("x", "x", "x") == "user:x"
    assert action_key(None, "x", "x") == "anon:x"
    assert action_key(None, None, "x") == "event:x"


def test_an_action_record_has_every_field_of_the_spec():
    [record] = build_publish(
        [row("e1", T0, anon="a1", user="u1", via=True, details={"page_url": "/"})], [], {}
    )
    assert record.key == "user:u1"
    assert json.loads(record.value) == {
        "schema": 1,
        "kind": "action",
        "action": "code_run",
        "ts": "2026-11-01T10:00:00.123000Z",
        "user_id": "u1",
        "anonymous_id": "a1",
        "attributed_via": "identity",
        "source_topic": "portal-backend",
        "source_event_id": "e1",
        "source_partition": 2,
        "source_offset": 41,
        "details": {"page_url": "/"},
        "late": False,
    }


def test_strict_json_refuses_nan():
    with pytest.raises(ValueError):
        build_publish([row("e1", T0, user="u1", details={"x": float("nan")})], [], {})


def test_each_keys_records_are_in_event_time_order_and_late_ones_are_marked():
    later, earlier = T0 + timedelta(minutes=5), T0 - timedelta(minutes=5)
    records = build_publish(
        [row("e2", later, user="u1"), row("e1", earlier, user="u1"), row("e3", T0, anon="a9")],
        [],
        {"user:u1": T0},  # an earlier publish went up to T0 under user:u1
    )
    values = [
        (r.key, json.loads(r.value)["source_event_id"], json.loads(r.value)["late"])
        for r in records
    ]
    assert values == [("anon:a9", "e3", False), ("user:u1", "e1", True), ("user:u1", "e2", False)]
    assert json.loads(records[0].value)["attributed_via"] is None


def test_an_identified_record_goes_to_the_browser_the_user_and_a_replaced_user():
    change = IdentityChange("a1", "u2", "u1", T0, "e7")
    records = build_publish([], [change], {})
    assert sorted(r.key for r in records) == ["anon:a1", "user:u1", "user:u2"]
    assert json.loads(records[0].value) == {
        "schema": 1,
        "kind": "identified",
        "anonymous_id": "a1",
        "user_id": "u2",
        "previous_user_id": "u1",
        "linked_at": "2026-11-01T10:00:00.123000Z",
        "link_event_id": "e7",
    }
    first = build_publish([], [IdentityChange("a1", "u2", None, T0, "e7")], {})
    assert sorted(r.key for r in first) == ["anon:a1", "user:u2"]


def test_a_stage_record():
    record = stage_record("u1", date(2026, 3, 2), "activated", "signed_up", True)
    assert record.key == "user:u1"
    assert json.loads(record.value) == {
        "schema": 1,
        "kind": "stage",
        "user_id": "u1",
        "day": "2026-03-02",
        "stage": "activated",
        "previous_stage": "signed_up",
        "changed": True,
    }
