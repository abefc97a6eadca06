"""The simulator's value types: one generated event, and how time is formatted on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

EventKind = Literal["clickstream", "backend"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One message for Kafka, before encoding.

    `kind` picks the topic, `key` keeps one browser's or one user's events in one partition,
    `value` is the JSON object of SPEC §4 exactly as it goes on the wire, `ts` its event time.
    """

    kind: EventKind
    key: bytes
    value: dict[str, Any]
    ts: datetime


def ms_to_datetime(ms: int) -> datetime:
    """Milliseconds since the Unix epoch -> aware UTC datetime (exact, no float rounding)."""
    return EPOCH + timedelta(milliseconds=ms)


def datetime_to_ms(moment: datetime) -> int:
    """Aware datetime -> milliseconds since the Unix epoch (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def format_ts(moment: datetime) -> str:
    """RFC 3339 with millisecond precision and a `Z` offset: `2026-11-01T10:00:00.123Z`."""
    return format_ms(datetime_to_ms(moment))


_DAY_MS = 86_400_000
_DAY_PREFIXES: dict[int, str] = {}


def format_ms(ms: int) -> str:
    """`format_ts` for milliseconds since the epoch, fast (the generator formats every event)."""
    day, rest = divmod(ms, _DAY_MS)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        prefix = _DAY_PREFIXES[day] = (EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
    seconds, milli = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"
