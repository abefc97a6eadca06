"""SPEC §4: every valid type is accepted, every invalid kind is rejected with its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from analytics_pipeline.events.wire import Reason, Rejection, WireEvent
from analytics_pipeline.warehouse.validation import parse_message

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


# --- issue 10: strict RFC 8259 JSON, real RFC 3339 times, user_id of 1-128 characters ---------


def text_of(body: dict) -> str:
    """The compact JSON of `body` without its closing brace, to append raw text to."""
    return json.dumps(body, separators=(",", ":"))[:-1]


STRICT_JSON = [
    ("trailing comma", text_of(clickstream()) + ",}"),
    ("trailing comma in an array", text_of(clickstream()) + ',"tags":[1,2,]}'),
    ("trailing comma with spaces", text_of(clickstream()) + " ,\n }"),
    ("NaN", text_of(clickstream()) + ',"x":NaN}'),
    ("Infinity", text_of(clickstream()) + ',"x":Infinity}'),
    ("-Infinity", text_of(clickstream()) + ',"x":-Infinity}'),
    ("lower-case nan", text_of(clickstream()) + ',"x":nan}'),
    ("inf", text_of(clickstream()) + ',"x":[inf]}'),
    ("block comment", text_of(clickstream()) + "/* c */}"),
    ("line comment", text_of(clickstream()) + "// c\n}"),
    ("single quotes", text_of(clickstream()) + ",'x':'y'}"),
    ("a number of 1001 digits", text_of(clickstream()) + ',"x":' + "1" * 1001 + "}"),
    ("nested 65 deep", text_of(clickstream()) + ',"x":' + "[" * 64 + "]" * 64 + "}"),
    ("an unpaired surrogate", text_of(clickstream()) + ',"x":"\\ud800"}'),
]


@pytest.mark.parametrize("text", [t for _, t in STRICT_JSON], ids=[n for n, _ in STRICT_JSON])
def test_what_strict_json_forbids_is_not_json(text):
    parsed = parse_message("clickstream", text.encode(), NOW)
    assert isinstance(parsed, Rejection), text
    assert parsed.reason == Reason.NOT_JSON


LOOKS_LENIENT_BUT_IS_STRICT = [
    ("NaN, Infinity and ,] inside strings", ',"x":"NaN, Infinity, [1,], {,}, nan"'),
    ("escaped quotes before a comma", ',"x":"a\\",]"'),
    ("nested 64 deep", ',"x":' + "[" * 63 + "]" * 63),
    ("a number of 1000 digits", ',"x":' + "1" * 1000),
    ("the same key in two objects", ',"x":{"a":1},"y":{"a":1},"z":[{"a":1},{"a":2}]'),
]


@pytest.mark.parametrize(
    "extra",
    [e for _, e in LOOKS_LENIENT_BUT_IS_STRICT],
    ids=[n for n, _ in LOOKS_LENIENT_BUT_IS_STRICT],
)
def test_strict_json_that_looks_lenient_is_accepted(extra):
    text = text_of(clickstream()) + extra + "}"
    parsed = parse_message("clickstream", text.encode(), NOW)
    assert isinstance(parsed, WireEvent), parsed
    assert parsed.body == json.loads(text)


DUPLICATE_KEYS = [
    ("at the top", text_of(clickstream()) + ',"page_url":"/other"}'),
    ("spelled with an escape", text_of(clickstream()) + ',"\\u0070age_url":"/other"}'),
    (
        "in a known object",
        text_of(clickstream(viewport={"width": 1, "height": 2}))[:-1] + ',"width":3}}',
    ),
    ("deep in an unknown field", text_of(clickstream()) + ',"x":[{"a":{"b":1,"b":1}}]}'),
]


@pytest.mark.parametrize("text", [t for _, t in DUPLICATE_KEYS], ids=[n for n, _ in DUPLICATE_KEYS])
def test_an_object_with_the_same_key_twice_is_invalid(text):
    parsed = parse_message("clickstream", text.encode(), NOW)
    assert isinstance(parsed, Rejection)
    assert parsed.reason == Reason.INVALID_FIELD
    assert parsed.detail == "an object has the same key twice"


def test_a_trailing_comma_no_longer_makes_parse_message_raise():
    parsed = parse_message("backend", (text_of(backend()) + ",}").encode(), NOW)
    assert parsed == Rejection(Reason.NOT_JSON, parsed.detail)


BAD_TIMES = [
    "2026-11-26T24:00:00Z",
    "2026-11-26T10:60:00Z",
    "2026-11-26T10:00:60Z",
    "2026-02-30T10:00:00Z",
    "2025-02-29T10:00:00Z",
    "2100-02-29T10:00:00Z",
    "2026-04-31T10:00:00Z",
    "2026-13-01T10:00:00Z",
    "2026-11-26T10:00:00+24:00",
    "2026-11-26T10:00:00-24:00",
    "2026-11-26T10:00:00+05:60",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:30:00+01:00",
]


@pytest.mark.parametrize("ts", BAD_TIMES)
def test_a_ts_that_is_not_a_real_time_is_invalid(ts):
    parsed = parse_message("backend", encode(backend(ts=ts)), NOW)
    assert isinstance(parsed, Rejection)
    assert parsed.reason == Reason.INVALID_FIELD
    assert parsed.detail.startswith("ts is not a valid date and time")


@pytest.mark.parametrize(
    ("ts", "instant"),
    [
        ("2024-02-29T10:00:00Z", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        ("2000-02-29T23:59:59.999999Z", datetime(2000, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2026-11-26T10:00:00+23:59", datetime(2026, 11, 25, 10, 1, tzinfo=UTC)),
        ("2026-11-26t10:00:00-23:59", datetime(2026, 11, 27, 9, 59, tzinfo=UTC)),
        ("2026-11-26 10:00:00.1234567z", datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_real_time_at_the_edges_is_accepted(ts, instant):
    parsed = parse_message("backend", encode(backend(ts=ts)), NOW)
    assert isinstance(parsed, WireEvent), parsed
    assert parsed.ts == instant


@pytest.mark.parametrize("user_id", ["", "u" * 129, 0, [], {}, True])
def test_user_id_must_be_null_or_1_to_128_characters(user_id):
    parsed = parse_message("backend", encode(backend(user_id=user_id)), NOW)
    assert isinstance(parsed, Rejection)
    assert parsed.reason == Reason.INVALID_FIELD
    assert parsed.detail == "user_id must be null or a string of 1-128 characters"


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("clickstream", clickstream(type="identify", user_id="")),
        (
            "backend",
            backend(
                type="deployment",
                user_id="",
                deployment={"deployment_id": "d", "status": "started"},
            ),
        ),
    ],
)
def test_an_empty_user_id_links_no_identity(kind, body):
    parsed = parse_message(kind, encode(body), NOW)
    assert isinstance(parsed, Rejection)
    assert parsed.reason == Reason.INVALID_FIELD


@pytest.mark.parametrize("user_id", ["u", "u" * 128, "é" * 128, None])
def test_user_id_of_1_to_128_characters_or_null_is_accepted(user_id):
    parsed = parse_message("backend", encode(backend(user_id=user_id)), NOW)
    assert isinstance(parsed, WireEvent), parsed
    assert parsed.user_id == user_id
