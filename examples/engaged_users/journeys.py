"""Reading the journey stream (SPEC §10) the way journey_events attributes it, without Quix.

Pure functions over records and a small key-value state, so the rules are testable alone and
the Quix wiring in app.py stays a table of contents.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

# SPEC §5: the actions that show a user building something.
MEANINGFUL_ACTIONS = frozenset(
    {"topic_created", "code_run", "deployment_started", "deployment_completed"}
)

# Anonymous actions waiting for their browser's identity link, per anonymous id: enough for
# any window, and a bound on state for a browser that never logs in.
MAX_PENDING = 1000


class KeyValueState(Protocol):
    """The part of Quix Streams' `State` these rules use."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


def parse_utc_ms(text: str) -> int:
    """Milliseconds since the epoch of an RFC 3339 time (the stream's `ts` and `linked_at`)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without an offset: {text!r}")
    return int(moment.timestamp() * 1000)


def format_utc(ms: int) -> str:
    """The stream's time format: RFC 3339 UTC with Z and microseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_time_ms(value: Any, headers: Any, timestamp: float, timestamp_type: Any) -> int:
    """Quix timestamp extractor: a record's event time, not the Kafka (publish) timestamp.

    An action's `ts`, an identity link's `linked_at`; a kind this service does not know keeps
    the Kafka timestamp (consumers ignore unknown kinds, SPEC §10).
    """
    if isinstance(value, Mapping):
        for field in ("ts", "linked_at"):
            text = value.get(field)
            if isinstance(text, str):
                return parse_utc_ms(text)
    return int(timestamp)


def counted_action(record: Mapping[str, Any], user_id: str) -> dict[str, Any]:
    """What the window needs of an action, under the user it belongs to."""
    return {
        "user_id": user_id,
        "action": record["action"],
        "ts": record["ts"],
        "source_event_id": record["source_event_id"],
    }


def attribute(
    record: Mapping[str, Any],
    key: str,
    state: KeyValueState,
    counted: Collection[str],
) -> list[dict[str, Any]]:
    """The counted actions that `record` (read under message `key`) gives to known users.

    - An action with a `user_id` belongs to that user.
    - An anonymous action belongs to the user its `anonymous_id` is linked to; until an
      `identified` record links it, it waits in this key's state.
    - An `identified` record (read under `anon:<anonymous_id>`, the key the browser's own
      actions share, so it comes after them) links the browser and releases what waited. Per
      anonymous id the link with the earliest (`linked_at`, `link_event_id`) wins, as in SPEC
      §10; copies under `user:` keys add nothing.
    - Anything else (other kinds, actions not counted, actions of no one) gives nothing.
    """
    kind = record.get("kind")
    if kind == "identified":
        return _link(record, key, state)
    if kind != "action" or record.get("action") not in counted:
        return []
    if record.get("user_id"):
        return [counted_action(record, record["user_id"])]
    anonymous_id = record.get("anonymous_id")
    if not anonymous_id:
        return []
    link = state.get("link")
    if link is not None:
        return [counted_action(record, link["user_id"])]
    _wait_for_link(record, state)
    return []


def _link(record: Mapping[str, Any], key: str, state: KeyValueState) -> list[dict[str, Any]]:
    if key != f"anon:{record['anonymous_id']}":
        return []
    candidate = {
        "user_id": record["user_id"],
        "linked_at": parse_utc_ms(record["linked_at"]),
        "link_event_id": record["link_event_id"],
    }
    current = state.get("link")
    if current is not None and (current["linked_at"], current["link_event_id"]) <= (
        candidate["linked_at"],
        candidate["link_event_id"],
    ):
        return []
    # Actions already counted for a replaced link stay counted: a flag, once sent, stays sent.
    state.set("link", candidate)
    pending = state.get("pending", [])
    state.delete("pending")
    return [counted_action(action, candidate["user_id"]) for action in pending]


def _wait_for_link(record: Mapping[str, Any], state: KeyValueState) -> None:
    pending = [*state.get("pending", []), dict(record)]
    pending.sort(key=lambda action: action["ts"])
    state.set("pending", pending[-MAX_PENDING:])


def engagement_flag(
    window: Mapping[str, Any], user_key: str, state: KeyValueState, threshold: int
) -> dict[str, Any] | None:
    """A flag for a user whose window holds `threshold` counted actions, once per UTC day.

    A sliding window emits every window a new action updates, so a user who stays busy (or an
    out-of-order action that completes several windows) would be flagged again and again: the
    first window that reaches the threshold on a day (of its end) is the flag for that day.
    """
    if window["value"] < threshold:
        return None
    day = format_utc(window["end"])[:10]
    flagged_days: list[str] = state.get("flagged_days", [])
    if day in flagged_days:
        return None
    # Windows are at most hours late, so a week of days is plenty to remember.
    state.set("flagged_days", sorted([*flagged_days, day])[-7:])
    return {
        "schema": 1,
        "kind": "engaged_user",
        "user_id": user_key.removeprefix("user:"),
        "day": day,
        "actions": window["value"],
        "threshold": threshold,
        "window_start": format_utc(window["start"]),
        "window_end": format_utc(window["end"]),
    }
