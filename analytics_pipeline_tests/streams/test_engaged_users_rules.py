"""The example service's rules (examples/engaged_users/journeys.py), without Kafka: identity
links as SPEC §10 describes them, event time, and one flag per user and day."""

from __future__ import annotations

from typing import Any

from examples.engaged_users.journeys import (
    MEANINGFUL_ACTIONS,
    attribute,
    engagement_flag,
    event_time_ms,
    format_utc,
    parse_utc_ms,
)

COUNTED = MEANINGFUL_ACTIONS | {"clicked"}


class DictState:
    """The key-value part of Quix's State, in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def action(name: str, ts: str, user_id: str | None = None, anonymous_id: str | None = None):
    return {
        "schema": 1,
        "kind": "action",
        "action": name,
        "ts": ts,
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "source_event_id": f"e-{name}-{ts}",
    }


def link(anonymous_id: str, user_id: str, linked_at: str, event: str = "l-1") -> dict[str, Any]:
    return {
        "schema": 1,
        "kind": "identified",
        "anonymous_id": anonymous_id,
        "user_id": user_id,
        "previous_user_id": None,
        "linked_at": linked_at,
        "link_event_id": event,
    }


T1 = "2026-11-01T10:00:00.000000Z"
T2 = "2026-11-01T10:05:00.000000Z"
T3 = "2026-11-01T10:10:00.000000Z"


def test_event_time_is_ts_then_linked_at_then_the_kafka_timestamp() -> None:
    assert event_time_ms(action("code_run", T1, "u"), None, 5, 1) == parse_utc_ms(T1)
    assert event_time_ms(link("a", "u", T2), None, 5, 1) == parse_utc_ms(T2)
    assert event_time_ms({"kind": "from_the_future"}, None, 5, 1) == 5
    assert format_utc(parse_utc_ms("2026-11-01T10:00:00.123000Z")) == "2026-11-01T10:00:00.123000Z"


def test_a_users_counted_actions_are_theirs_and_others_are_dropped() -> None:
    state = DictState()
    assert attribute(action("code_run", T1, "u"), "user:u", state, COUNTED) == [
        {"user_id": "u", "action": "code_run", "ts": T1, "source_event_id": f"e-code_run-{T1}"}
    ]
    assert attribute(action("logged_in", T1, "u"), "user:u", state, COUNTED) == []
    assert attribute(action("code_run", T1), "event:e-1", state, COUNTED) == []
    assert attribute({"schema": 1, "kind": "reward"}, "user:u", state, COUNTED) == []


def test_anonymous_actions_wait_for_the_link_and_then_count_for_the_user() -> None:
    state = DictState()
    assert attribute(action("clicked", T1, anonymous_id="a"), "anon:a", state, COUNTED) == []
    assert attribute(action("page_viewed", T1, anonymous_id="a"), "anon:a", state, COUNTED) == []
    # The copy under the user's key adds nothing; the one under the browser's key releases.
    assert attribute(link("a", "u", T2), "user:u", DictState(), COUNTED) == []
    released = attribute(link("a", "u", T2), "anon:a", state, COUNTED)
    assert [(r["user_id"], r["action"], r["ts"]) for r in released] == [("u", "clicked", T1)]
    # Once linked, the browser's later anonymous actions are the user's at once.
    later = attribute(action("clicked", T3, anonymous_id="a"), "anon:a", state, COUNTED)
    assert [(r["user_id"], r["ts"]) for r in later] == [("u", T3)]


def test_the_earliest_link_wins() -> None:
    state = DictState()
    attribute(link("a", "u1", T2, "l-2"), "anon:a", state, COUNTED)
    attribute(link("a", "u2", T3, "l-3"), "anon:a", state, COUNTED)  # later: ignored
    assert (
        attribute(action("clicked", T3, anonymous_id="a"), "anon:a", state, COUNTED)[0]["user_id"]
        == "u1"
    )
    attribute(link("a", "u0", T1, "l-1"), "anon:a", state, COUNTED)  # earlier: replaces
    assert (
        attribute(action("clicked", T3, anonymous_id="a"), "anon:a", state, COUNTED)[0]["user_id"]
        == "u0"
    )


def window(count: int, end: str) -> dict[str, Any]:
    end_ms = parse_utc_ms(end)
    return {"start": end_ms - 3_600_000, "end": end_ms, "value": count}


def test_a_user_is_flagged_once_a_day_at_the_threshold() -> None:
    state = DictState()
    assert engagement_flag(window(4, T1), "user:u", state, 5) is None
    flag = engagement_flag(window(5, T2), "user:u", state, 5)
    assert flag == {
        "schema": 1,
        "kind": "engaged_user",
        "user_id": "u",
        "day": "2026-11-01",
        "actions": 5,
        "threshold": 5,
        "window_start": "2026-11-01T09:05:00.000000Z",
        "window_end": T2,
    }
    assert engagement_flag(window(6, T3), "user:u", state, 5) is None
    next_day = engagement_flag(window(5, "2026-11-02T08:00:00.000000Z"), "user:u", state, 5)
    assert next_day is not None
    assert next_day["day"] == "2026-11-02"
