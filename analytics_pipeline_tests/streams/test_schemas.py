"""The stream records' JSON Schemas (docs/streams/) accept SPEC §10's records and reject drift."""

from __future__ import annotations

from typing import Any

import pytest

from analytics_pipeline_tests.streams.schemas import RecordInvalid, validate_record


def action(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema": 1,
        "kind": "action",
        "action": "code_run",
        "ts": "2026-11-01T10:00:00.123000Z",
        "user_id": "u-1",
        "anonymous_id": None,
        "attributed_via": "user_id",
        "source_topic": "portal-backend",
        "source_event_id": "e-1",
        "source_partition": 0,
        "source_offset": 42,
        "details": {"path": "/projects/p1/runs"},
        "late": False,
    }
    record.update(changes)
    return record


def identified(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema": 1,
        "kind": "identified",
        "anonymous_id": "a-1",
        "user_id": "u-1",
        "previous_user_id": None,
        "linked_at": "2026-11-01T09:59:00.000000Z",
        "link_event_id": "c-7",
    }
    record.update(changes)
    return record


def stage(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schema": 1,
        "kind": "stage",
        "user_id": "u-1",
        "day": "2026-11-01",
        "stage": "activated",
        "previous_stage": "signed_up",
        "changed": True,
    }
    record.update(changes)
    return record


VALID = {
    "action by user": action(),
    "anonymous page view": action(
        action="page_viewed",
        user_id=None,
        anonymous_id="a-1",
        attributed_via=None,
        source_topic="portal-clickstream",
        details=None,
    ),
    "action attributed by identity, late": action(
        action="clicked", anonymous_id="a-1", attributed_via="identity", late=True
    ),
    "action with a field this version does not know": action(trace_id="abc"),
    "first link": identified(),
    "replaced link": identified(previous_user_id="u-2"),
    "stage on a first day": stage(stage="signed_up", previous_stage=None),
    "withdrawn change": stage(stage="active", previous_stage="active", changed=False),
}


@pytest.mark.parametrize("record", VALID.values(), ids=VALID.keys())
def test_valid_records_pass(record: dict[str, Any]) -> None:
    validate_record(record)


# (record, a fragment the error message must contain)
INVALID = {
    "schema 2": (action(schema=2), "schema"),
    "schema as a string": (action(schema="1"), "schema"),
    "missing late": ({k: v for k, v in action().items() if k != "late"}, "'late' is a required"),
    "ts without microseconds": (action(ts="2026-11-01T10:00:00.123Z"), "ts"),
    "ts with an offset, not Z": (action(ts="2026-11-01T10:00:00.123000+00:00"), "ts"),
    "ts on 30 February": (action(ts="2026-02-30T10:00:00.000000Z"), "date-time"),
    "unknown action": (action(action="teleported"), "action"),
    "empty user id": (action(user_id=""), "user_id"),
    "user without attribution": (action(attributed_via=None), "user_id"),
    "attribution without user": (action(user_id=None), "user_id"),
    "negative offset": (action(source_offset=-1), "source_offset"),
    "details as a string": (action(details="{}"), "details"),
    "late as 0": (action(late=0), "late"),
    "identified without user": (identified(user_id=None), "user_id"),
    "identified with a local linked_at": (identified(linked_at="2026-11-01T09:59:00"), "linked_at"),
    "stage unknown": (stage(stage="churned"), "stage"),
    "day with a time": (stage(day="2026-11-01T00:00:00Z"), "day"),
    "day 31 April": (stage(day="2026-04-31"), "date"),
    "changed missing": ({k: v for k, v in stage().items() if k != "changed"}, "changed"),
    "unknown kind": (action(kind="teleport"), "unknown record kind"),
}


@pytest.mark.parametrize(("record", "fragment"), INVALID.values(), ids=INVALID.keys())
def test_invalid_records_fail_with_a_clear_message(record: dict[str, Any], fragment: str) -> None:
    with pytest.raises(RecordInvalid) as caught:
        validate_record(record)
    assert fragment in str(caught.value)


def test_a_non_object_is_rejected() -> None:
    with pytest.raises(RecordInvalid, match="JSON object"):
        validate_record(["not", "an", "object"])  # type: ignore[arg-type]
