"""The journey stream's records (SPEC §10), built from lake rows: pure, no Kafka, no lake.

One publish turns the actions and identity changes of a range of journeys batches into
keyed records: `action` records under the key the action has now (`user:`, `anon:` or
`event:`), `identified` records under every key a link concerns. Within the publish each
key's records are in event-time order (`ts`, or `linked_at` for a link); `late` marks an
action older than one already published under its key in an earlier publish.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ActionRow:
    """One journey_events row, with the raw event's Kafka coordinates."""

    source_topic: str
    event_id: str
    user_id: str | None
    anonymous_id: str | None
    ts: datetime
    action: str
    details: Mapping[str, Any] | None
    user_via_identity: bool
    source_partition: int | None
    source_offset: int | None


@dataclass(frozen=True)
class IdentityChange:
    """A change of user_identities: a first link, or a link replaced by an earlier one."""

    anonymous_id: str
    user_id: str
    previous_user_id: str | None
    linked_at: datetime
    link_event_id: str


@dataclass(frozen=True)
class StreamRecord:
    key: str
    value: bytes
    ts: datetime  # event time, the order within a key

    def as_json(self) -> dict[str, Any]:
        return json.loads(self.value)


def format_ts(value: datetime) -> str:
    """RFC 3339 UTC with `Z` and microseconds: 2026-11-01T10:00:00.123000Z."""
    if value.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def user_key(user_id: str) -> str:
    return f"user:{user_id}"


def action_key(user_id: str | None, anonymous_id: str | None, event_id: str) -> str:
    """The key an action has now: its user, else its browser, else itself (SPEC §10)."""
    if user_id is not None:
        return user_key(user_id)
    if anonymous_id is not None:
        return f"anon:{anonymous_id}"
    return f"event:{event_id}"


def encode(value: Mapping[str, Any]) -> bytes:
    """Strict JSON (no NaN/Infinity), UTF-8, compact."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def action_record(row: ActionRow, *, late: bool) -> StreamRecord:
    attributed_via = None
    if row.user_id is not None:
        attributed_via = "identity" if row.user_via_identity else "user_id"
    value = {
        "schema": SCHEMA_VERSION,
        "kind": "action",
        "action": row.action,
        "ts": format_ts(row.ts),
        "user_id": row.user_id,
        "anonymous_id": row.anonymous_id,
        "attributed_via": attributed_via,
        "source_topic": row.source_topic,
        "source_event_id": row.event_id,
        "source_partition": row.source_partition,
        "source_offset": row.source_offset,
        "details": dict(row.details) if row.details is not None else None,
        "late": late,
    }
    key = action_key(row.user_id, row.anonymous_id, row.event_id)
    return StreamRecord(key=key, value=encode(value), ts=row.ts)


def identified_records(change: IdentityChange) -> list[StreamRecord]:
    """One record per key the link concerns: the browser, the user, a replaced user."""
    value = encode(
        {
            "schema": SCHEMA_VERSION,
            "kind": "identified",
            "anonymous_id": change.anonymous_id,
            "user_id": change.user_id,
            "previous_user_id": change.previous_user_id,
            "linked_at": format_ts(change.linked_at),
            "link_event_id": change.link_event_id,
        }
    )
    keys = [f"anon:{change.anonymous_id}", user_key(change.user_id)]
    if change.previous_user_id is not None and change.previous_user_id != change.user_id:
        keys.append(user_key(change.previous_user_id))
    return [StreamRecord(key=key, value=value, ts=change.linked_at) for key in keys]


def build_publish(
    actions: Iterable[ActionRow],
    identities: Iterable[IdentityChange],
    published_max_ts: Mapping[str, datetime],
) -> list[StreamRecord]:
    """The records of one publish, each key's in event-time order.

    `published_max_ts`: per key, the latest `ts` of an action published before this publish.
    An action is `late` when it is older than that, or than an action of its key earlier in
    this publish (never, as they are sorted; kept so the rule reads as the SPEC's).
    """
    ordered = sorted(
        actions,
        key=lambda r: (action_key(r.user_id, r.anonymous_id, r.event_id), r.ts, r.event_id),
    )
    latest = dict(published_max_ts)
    records: list[StreamRecord] = []
    for row in ordered:
        key = action_key(row.user_id, row.anonymous_id, row.event_id)
        seen = latest.get(key)
        records.append(action_record(row, late=seen is not None and row.ts < seen))
        latest[key] = row.ts if seen is None else max(seen, row.ts)
    for change in identities:
        records.extend(identified_records(change))
    # Stable sort: per key by event time, actions before a link at the same instant.
    records.sort(key=lambda r: (r.key, r.ts))
    return records


def stage_record(
    user_id: str, day: date, stage: str, previous_stage: str | None, changed: bool
) -> StreamRecord:
    """A stage stream record (SPEC §10), keyed by the user; its order time is the day."""
    value = {
        "schema": SCHEMA_VERSION,
        "kind": "stage",
        "user_id": user_id,
        "day": day.isoformat(),
        "stage": stage,
        "previous_stage": previous_stage,
        "changed": bool(changed),
    }
    ts = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return StreamRecord(key=user_key(user_id), value=encode(value), ts=ts)
