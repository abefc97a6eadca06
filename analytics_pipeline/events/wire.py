"""The wire format of SPEC §4: parse and validate one Kafka message value.

Pure and fast (it runs once per message on the ingest hot path): no I/O, no Dagster. A
message is either a `WireEvent` or a `Rejection` whose machine-readable `reason` goes into
`dead_letter_events`; nothing raises for bad input.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

Kind = Literal["clickstream", "backend"]

MAX_VALUE_BYTES = 1024 * 1024
MAX_EVENT_ID_CHARS = 128
MAX_FUTURE = timedelta(hours=24)

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)


class Reason(StrEnum):
    """Why a message went to the dead-letter table (stable, machine-readable)."""

    EMPTY_VALUE = "empty_value"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_TYPE = "unknown_type"
    TS_WITHOUT_OFFSET = "ts_without_offset"
    TS_IN_FUTURE = "ts_in_future"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class WireEvent:
    """A valid message: the parsed object plus the fields every table needs."""

    event_id: str
    type: str
    ts: datetime
    user_id: str | None
    body: dict[str, Any]
    text: str


class _Invalid(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail


# --- field checks: each returns nothing or raises _Invalid ------------------------------

FieldCheck = Callable[[str, Any], None]


def _string(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise _Invalid(Reason.INVALID_FIELD, f"{name} must be a string")


def _string_or_null(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise _Invalid(Reason.INVALID_FIELD, f"{name} must be a string or null")


def _non_empty_string(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise _Invalid(Reason.INVALID_FIELD, f"{name} must be a non-empty string")


def _boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _Invalid(Reason.INVALID_FIELD, f"{name} must be a boolean")


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _viewport(name: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise _Invalid(Reason.INVALID_FIELD, f"{name} must be an object {{width, height}}")
    for side in ("width", "height"):
        if side not in value:
            raise _Invalid(Reason.MISSING_FIELD, f"{name}.{side} is required")
        if not _integer(value[side]):
            raise _Invalid(Reason.INVALID_FIELD, f"{name}.{side} must be an integer")


def _request(name: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise _Invalid(Reason.INVALID_FIELD, f"{name} must be an object")
    for field in ("method", "path", "status", "duration_ms"):
        if field not in value:
            raise _Invalid(Reason.MISSING_FIELD, f"{name}.{field} is required")
    _non_empty_string(f"{name}.method", value["method"])
    _non_empty_string(f"{name}.path", value["path"])
    status = value["status"]
    if not _integer(status) or not 100 <= status <= 599:
        raise _Invalid(Reason.INVALID_FIELD, f"{name}.status must be an integer 100-599")
    duration = value["duration_ms"]
    if (
        not isinstance(duration, int | float)
        or isinstance(duration, bool)
        or not math.isfinite(duration)
        or duration < 0
    ):
        raise _Invalid(Reason.INVALID_FIELD, f"{name}.duration_ms must be a number >= 0")


def _error(name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _Invalid(Reason.INVALID_FIELD, f"{name} must be an object {{code, message}}")
    code = value.get("code")
    if code is not None and not isinstance(code, str) and not _integer(code):
        raise _Invalid(Reason.INVALID_FIELD, f"{name}.code must be a string or integer")
    _string_or_null(f"{name}.message", value.get("message"))


DEPLOYMENT_STATUSES = frozenset({"started", "completed", "failed"})


def _deployment(name: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise _Invalid(Reason.INVALID_FIELD, f"{name} must be an object")
    for field in ("deployment_id", "status"):
        if field not in value:
            raise _Invalid(Reason.MISSING_FIELD, f"{name}.{field} is required")
    _non_empty_string(f"{name}.deployment_id", value["deployment_id"])
    if value["status"] not in DEPLOYMENT_STATUSES:
        raise _Invalid(
            Reason.INVALID_FIELD, f"{name}.status must be one of started, completed, failed"
        )
    _string_or_null(f"{name}.error_message", value.get("error_message"))


@dataclass(frozen=True, slots=True)
class TypeSchema:
    required: Mapping[str, FieldCheck]
    optional: Mapping[str, FieldCheck]


# --- the wire format as data (SPEC §4) -----------------------------------------------------

CLICKSTREAM_TYPES: Mapping[str, TypeSchema] = {
    "page_view": TypeSchema(
        {"page_url": _string}, {"session_id": _string_or_null, "viewport": _viewport}
    ),
    "click": TypeSchema(
        {"page_url": _string}, {"element": _string_or_null, "session_id": _string_or_null}
    ),
    "visibility_change": TypeSchema(
        {"visible": _boolean}, {"page_url": _string_or_null, "session_id": _string_or_null}
    ),
    "resize": TypeSchema({"viewport": _viewport}, {"session_id": _string_or_null}),
    "identify": TypeSchema({"user_id": _non_empty_string}, {"session_id": _string_or_null}),
}

BACKEND_TYPES: Mapping[str, TypeSchema] = {
    "api_request": TypeSchema({"request": _request}, {"error": _error}),
    "deployment": TypeSchema({"user_id": _non_empty_string, "deployment": _deployment}, {}),
}

COMMON_REQUIRED: Mapping[Kind, Mapping[str, FieldCheck]] = {
    "clickstream": {"anonymous_id": _non_empty_string},
    "backend": {},
}

TYPES: Mapping[Kind, Mapping[str, TypeSchema]] = {
    "clickstream": CLICKSTREAM_TYPES,
    "backend": BACKEND_TYPES,
}


def _parse_ts(value: Any, latest_allowed: datetime) -> datetime:
    if not isinstance(value, str):
        raise _Invalid(Reason.INVALID_FIELD, "ts must be an RFC 3339 string")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise _Invalid(Reason.INVALID_FIELD, "ts must be an RFC 3339 timestamp")
    if match.group("offset") is None:
        raise _Invalid(Reason.TS_WITHOUT_OFFSET, "ts has no UTC offset")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(Reason.INVALID_FIELD, "ts is not a valid date and time") from None
    if ts > latest_allowed:
        raise _Invalid(Reason.TS_IN_FUTURE, "ts is more than 24 h in the future")
    return ts


def _check_fields(body: dict[str, Any], checks: Mapping[str, FieldCheck], required: bool) -> None:
    for name, check in checks.items():
        if name in body:
            check(name, body[name])
        elif required:
            raise _Invalid(Reason.MISSING_FIELD, f"{name} is required")


def _validate(kind: Kind, value: bytes | None, latest_allowed: datetime) -> WireEvent:
    if not value:
        raise _Invalid(Reason.EMPTY_VALUE, "the message value is empty")
    if len(value) > MAX_VALUE_BYTES:
        raise _Invalid(Reason.TOO_LARGE, f"the value is {len(value)} bytes, over 1 MiB")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Invalid(Reason.NOT_UTF8, f"not UTF-8 at byte {error.start}") from None
    try:
        body = json.loads(text)
    except ValueError as error:
        raise _Invalid(Reason.NOT_JSON, f"not JSON: {error.msg} at char {error.pos}") from None
    if not isinstance(body, dict):
        raise _Invalid(Reason.NOT_OBJECT, f"a JSON {type(body).__name__}, not an object")
    for name in ("event_id", "type", "ts"):
        if name not in body:
            raise _Invalid(Reason.MISSING_FIELD, f"{name} is required")
    event_id = body["event_id"]
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= MAX_EVENT_ID_CHARS:
        raise _Invalid(Reason.INVALID_FIELD, "event_id must be a string of 1-128 characters")
    event_type = body["type"]
    if not isinstance(event_type, str):
        raise _Invalid(Reason.INVALID_FIELD, "type must be a string")
    schema = TYPES[kind].get(event_type)
    if schema is None:
        raise _Invalid(Reason.UNKNOWN_TYPE, f"unknown {kind} type {event_type[:64]!r}")
    ts = _parse_ts(body["ts"], latest_allowed)
    user_id = body.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise _Invalid(Reason.INVALID_FIELD, "user_id must be a string or null")
    _check_fields(body, COMMON_REQUIRED[kind], required=True)
    _check_fields(body, schema.required, required=True)
    _check_fields(body, schema.optional, required=False)
    return WireEvent(event_id, event_type, ts, user_id, body, text)


def parse_message(kind: Kind, value: bytes | None, now: datetime) -> WireEvent | Rejection:
    """Validate one message value of the `kind` topic against SPEC §4, as of `now` (aware)."""
    try:
        return _validate(kind, value, now + MAX_FUTURE)
    except _Invalid as invalid:
        return Rejection(invalid.reason, invalid.detail)
