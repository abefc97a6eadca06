"""Invalid messages of every kind SPEC §4 lists, to prove ingestion dead-letters them.

`malform` is a pure function of one valid event, an invalid kind and a variant number;
`encode_stream` decides which messages to replace by hashing the seed with the event id,
never by drawing from the journeys' random generators, so the valid messages that remain
are exactly those of a run without malformed ones.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics_pipeline.simulate.model import EventKind, SimEvent

MAX_VALUE_BYTES = 1024 * 1024  # SPEC §4: a value over 1 MiB is invalid

# Every invalid kind of SPEC §4, in the order the stream cycles through them.
MALFORMED_KINDS = (
    "not_utf8",
    "not_json",
    "not_object",
    "missing_field",
    "invalid_field",
    "unknown_type",
    "ts_without_offset",
    "ts_in_future",
    "too_large",
    "empty_value",
)

# Per event type: fields whose absence or wrong type makes a message invalid (SPEC §4).
_COMMON_REQUIRED = ("event_id", "type", "ts")
_TYPE_REQUIRED: dict[str, tuple[str, ...]] = {
    "page_view": ("anonymous_id", "page_url"),
    "click": ("anonymous_id", "page_url"),
    "visibility_change": ("anonymous_id", "visible"),
    "resize": ("anonymous_id", "viewport"),
    "identify": ("anonymous_id", "user_id"),
    "api_request": ("request",),
    "deployment": ("user_id", "deployment"),
}
# Wrong-typed replacements: (dotted field path, bad value).
_MISTYPES: dict[str, tuple[tuple[str, Any], ...]] = {
    "page_view": (("page_url", 404), ("anonymous_id", 12345)),
    "click": (("page_url", ["/"]), ("anonymous_id", True)),
    "visibility_change": (("visible", "yes"), ("anonymous_id", 7)),
    "resize": (("viewport.width", "1024px"), ("viewport", "1024x768")),
    "identify": (("user_id", 42), ("anonymous_id", ["a"])),
    "api_request": (("request.status", "200"), ("request.duration_ms", "fast"), ("request", [])),
    "deployment": (("deployment", "started"), ("user_id", 1001)),
}
_COMMON_MISTYPES: tuple[tuple[str, Any], ...] = (("event_id", 123456), ("ts", 1767225600000))


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message as bytes; `malformed` names the invalid kind, None when valid."""

    kind: EventKind
    key: bytes
    value: bytes
    ts: datetime
    malformed: str | None = None


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def encode(value: dict[str, Any]) -> bytes:
    """The wire encoding: compact UTF-8 JSON (ASCII-only, so always valid UTF-8)."""
    return _ENCODER.encode(value).encode()


def _set_path(value: dict[str, Any], path: str, new: Any) -> None:
    *parents, leaf = path.split(".")
    target = value
    for part in parents:
        target = target[part]
    target[leaf] = new


def malform(event: SimEvent, kind: str, variant: int = 0) -> bytes:
    """The bytes of `event` broken in the way `kind` names; `variant` picks among ways."""
    value = copy.deepcopy(event.value)
    event_type = value["type"]
    if kind == "not_utf8":  # a client that sends Latin-1 instead of UTF-8
        value["referrer"] = "https://exemple.fr/caf\u00e9"
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("latin-1")
    if kind == "not_json":
        raw = encode(value)
        return raw[: len(raw) // 2] if variant % 2 == 0 else b"event_id=" + raw[:20]
    if kind == "not_object":
        options: tuple[Any, ...] = ([value], value["event_id"], 42, None)
        return json.dumps(options[variant % len(options)]).encode()
    if kind == "missing_field":
        fields = _TYPE_REQUIRED[event_type] + _COMMON_REQUIRED
        del value[fields[variant % len(fields)]]
        return encode(value)
    if kind == "invalid_field":
        choices = _MISTYPES[event_type] + _COMMON_MISTYPES
        path, bad = choices[variant % len(choices)]
        _set_path(value, path, bad)
        return encode(value)
    if kind == "unknown_type":
        value["type"] = ("page_scroll", "api_response", "Page_View", "deploy")[variant % 4]
        return encode(value)
    if kind == "ts_without_offset":  # "2026-11-01T10:00:00.123Z" -> "2026-11-01T10:00:00.123"
        value["ts"] = value["ts"][:-1]
        return encode(value)
    if kind == "ts_in_future":  # a century ahead: stays "more than 24 h in the future"
        value["ts"] = str(int(value["ts"][:4]) + 100) + value["ts"][4:]
        return encode(value)
    if kind == "too_large":  # a valid object, just ~0.5 KiB over the limit
        raw = encode(value)
        padding = MAX_VALUE_BYTES - len(raw) + 512
        return raw[:-1] + b',"padding":"' + b"x" * padding + b'"}'
    if kind == "empty_value":
        return b""
    raise ValueError(f"unknown malformed kind {kind!r}; expected one of {MALFORMED_KINDS}")


def _draw(seed: int, event_id: str) -> float:
    """A uniform number in [0, 1) that depends only on the seed and the event id."""
    digest = hashlib.blake2b(f"{seed}:{event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def encode_stream(events: Iterable[SimEvent], fraction: float, seed: int) -> Iterator[Message]:
    """Encode events to messages, replacing about `fraction` of them by invalid ones.

    Replaced messages cycle through every kind of `MALFORMED_KINDS` (then through each
    kind's variants), keep the event's key and position, and are deterministic by seed.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    count = 0
    kinds = len(MALFORMED_KINDS)
    for event in events:
        if fraction > 0 and _draw(seed, event.value["event_id"]) < fraction:
            kind = MALFORMED_KINDS[count % kinds]
            raw = malform(event, kind, count // kinds)
            count += 1
            yield Message(event.kind, event.key, raw, event.ts, kind)
        else:
            yield Message(event.kind, event.key, encode(event.value), event.ts)
