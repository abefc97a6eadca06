"""Small text helpers the rules' headlines share (values shown in Slack mrkdwn)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from analytics_pipeline.slack import code


def when(value: Any) -> str:
    """A timestamp (datetime or ISO text) as Slack shows it: `2026-11-26 10:04:05 UTC`."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return code(value)
    if not isinstance(value, datetime):
        return "?"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def minutes(value: Any) -> str:
    """A number of minutes as text: `10`, `2.5`, or `?`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "?"
    return str(int(number)) if number.is_integer() else f"{number:g}"


def iso(ts: datetime) -> str:
    """A timestamp as stored in an alert's details: `2026-11-26T10:04:05Z`."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")
