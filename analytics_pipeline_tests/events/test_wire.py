"""SPEC §4: every valid type is accepted, every invalid kind is rejected with its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from analytics_pipeline.events.wire import Reason, Rejection, WireEvent, parse_message

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def clickstream(**fields) -> dict:
    return {
        "event_id": "c-1",
        "type": "page_view",
        "ts": "2026-11-26T10:00:00.123Z",
        "anonymous_id": "anon-1",
        "page_url": "/pricing",
        **fields,
    }


def backend(**fields) -> dict:
    return {
        "event_id": "b-1",
        "type": "api_request",
        "ts": "2026-11-26T10:00:00+01:00",
        "user_id": "user-1",
        "request": {"method": "POST", "path": "/auth/signup", "status": 201, "duration_ms": 12},
        **fields,
    }


def encode(body: object) -> bytes:
    return json.dumps(body).encode()


VALID = [
    ("clickstream", clickstream(session_id="s1", viewport={"width": 1280, "height": 800})),
    ("clickstream", clickstream(type="click", element="button#deploy", session_id="s1")),
    ("clickstream", clickstream(type="visibility_change", visible=False)),
    ("clickstream", {**clickstream(type="resize", viewport={"width": 10, "height": 20})}),
    ("clickstream", clickstream(type="identify", user_id="user-1")),
    ("backend", backend()),
    ("backend", backend(error={"code": "E500", "message": "boom"})),
    (
        "backend",
        backend(
            type="deployment",
            deployment={"deployment_id": "d-1", "status": "failed", "error_message": "OOM"},
        ),
    ),
    ("clickstream", clickstream(unknown_extra={"kept": True})),
]


@pytest.mark.parametrize(("kind", "body"), VALID)
def test_valid_event_of_every_type_is_accepted(kind, body):
    parsed = parse_message(kind, encode(body), NOW)
    assert isinstance(parsed, WireEvent), parsed
    assert parsed.event_id == body["event_id"]
    assert parsed.type == body["type"]
    assert parsed.ts.tzinfo is not None
    assert parsed.body == body


def test_timestamp_offset_is_honoured():
    parsed = parse_message("backend", encode(backend()), NOW)
    assert parsed.ts == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def without(body: dict, field: str) -> dict:
    return {k: v for k, v in body.items() if k != field}


INVALID = [
    ("empty value", "clickstream", b"", Reason.EMPTY_VALUE),
    ("null value", "clickstream", None, Reason.EMPTY_VALUE),
    ("over 1 MiB", "clickstream", encode(clickstream(pad="x" * (1 << 20))), Reason.TOO_LARGE),
    ("not UTF-8", "clickstream", b'{"event_id": "\xff"}', Reason.NOT_UTF8),
    ("not JSON", "backend", b"{event_id: 1", Reason.NOT_JSON),
    ("JSON array", "backend", b"[1, 2]", Reason.NOT_OBJECT),
    ("JSON string", "backend", b'"hello"', Reason.NOT_OBJECT),
    (
        "no event_id",
        "clickstream",
        encode(without(clickstream(), "event_id")),
        Reason.MISSING_FIELD,
    ),
    ("no ts", "backend", encode(without(backend(), "ts")), Reason.MISSING_FIELD),
    ("no type", "backend", encode(without(backend(), "type")), Reason.MISSING_FIELD),
    (
        "no anonymous_id",
        "clickstream",
        encode(without(clickstream(), "anonymous_id")),
        Reason.MISSING_FIELD,
    ),
    (
        "no page_url",
        "clickstream",
        encode(without(clickstream(), "page_url")),
        Reason.MISSING_FIELD,
    ),
    (
        "identify without user",
        "clickstream",
        encode(clickstream(type="identify")),
        Reason.MISSING_FIELD,
    ),
    ("no request", "backend", encode(without(backend(), "request")), Reason.MISSING_FIELD),
    (
        "request without status",
        "backend",
        encode(backend(request={"method": "GET", "path": "/", "duration_ms": 1})),
        Reason.MISSING_FIELD,
    ),
    (
        "deployment without user",
        "backend",
        encode(
            without(
                backend(type="deployment", deployment={"deployment_id": "d", "status": "started"}),
                "user_id",
            )
        ),
        Reason.MISSING_FIELD,
    ),
    (
        "event_id too long",
        "clickstream",
        encode(clickstream(event_id="x" * 129)),
        Reason.INVALID_FIELD,
    ),
    ("event_id empty", "clickstream", encode(clickstream(event_id="")), Reason.INVALID_FIELD),
    ("event_id number", "clickstream", encode(clickstream(event_id=7)), Reason.INVALID_FIELD),
    ("user_id number", "backend", encode(backend(user_id=42)), Reason.INVALID_FIELD),
    (
        "status out of range",
        "backend",
        encode(backend(request={"method": "GET", "path": "/", "status": 600, "duration_ms": 1})),
        Reason.INVALID_FIELD,
    ),
    (
        "status as string",
        "backend",
        encode(backend(request={"method": "GET", "path": "/", "status": "200", "duration_ms": 1})),
        Reason.INVALID_FIELD,
    ),
    (
        "negative duration",
        "backend",
        encode(backend(request={"method": "GET", "path": "/", "status": 200, "duration_ms": -1})),
        Reason.INVALID_FIELD,
    ),
    (
        "visible as string",
        "clickstream",
        encode(clickstream(type="visibility_change", visible="yes")),
        Reason.INVALID_FIELD,
    ),
    (
        "viewport width float",
        "clickstream",
        encode(clickstream(type="resize", viewport={"width": 1.5, "height": 2})),
        Reason.INVALID_FIELD,
    ),
    (
        "deployment status unknown",
        "backend",
        encode(backend(type="deployment", deployment={"deployment_id": "d", "status": "paused"})),
        Reason.INVALID_FIELD,
    ),
    ("unknown type", "clickstream", encode(clickstream(type="scroll")), Reason.UNKNOWN_TYPE),
    (
        "backend type on clickstream",
        "clickstream",
        encode(clickstream(type="api_request")),
        Reason.UNKNOWN_TYPE,
    ),
    (
        "ts without offset",
        "backend",
        encode(backend(ts="2026-11-26T10:00:00")),
        Reason.TS_WITHOUT_OFFSET,
    ),
    ("ts not a timestamp", "backend", encode(backend(ts="yesterday")), Reason.INVALID_FIELD),
    ("ts date only", "backend", encode(backend(ts="2026-11-26")), Reason.INVALID_FIELD),
    (
        "ts over 24 h ahead",
        "backend",
        encode(backend(ts="2026-11-27T12:00:01Z")),
        Reason.TS_IN_FUTURE,
    ),
]


@pytest.mark.parametrize(
    ("kind", "value", "reason"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_invalid_message_is_rejected_with_its_reason(kind, value, reason):
    parsed = parse_message(kind, value, NOW)
    assert isinstance(parsed, Rejection)
    assert parsed.reason == reason
    assert parsed.detail


def test_ts_just_inside_24_hours_ahead_is_accepted():
    assert isinstance(
        parse_message("backend", encode(backend(ts="2026-11-27T12:00:00Z")), NOW), WireEvent
    )
