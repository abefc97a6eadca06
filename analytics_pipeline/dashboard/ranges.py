"""The day range every page shows: a preset or a custom span, kept in the URL's query params.

A range is a span of whole UTC days, both ends included. Presets are relative to today (UTC):
`yesterday`, the last 7 / 30 / 90 days ending today, or all time (no bounds). In the URL:
`?range=7d`, or `?range=custom&from=2026-03-01&to=2026-03-04`.

Today is the server's UTC date, unless `ANALYTICS_DASHBOARD_TODAY` names one (YYYY-MM-DD): the
browser tests pin it to their seeded lake's day, so a test that runs across midnight UTC still
sees the presets end on that day. Leave it unset in a deployment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

PRESETS: dict[str, str] = {
    "yesterday": "Yesterday",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "all": "All time",
    "custom": "Custom range",
}
DEFAULT_PRESET = "30d"
# Bounds standing in for "no bound", so every query keeps plain, index-friendly comparisons.
EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)


@dataclass(frozen=True)
class DayRange:
    """Whole UTC days [first, last]; `preset` is how it was chosen (one of PRESETS)."""

    preset: str
    first: date
    last: date

    @property
    def label(self) -> str:
        if self.preset == "all":
            return "all time"
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} – {self.last.isoformat()}"

    @property
    def start_ts(self) -> datetime:
        """The first instant of the range (UTC)."""
        return datetime.combine(self.first, time(0), UTC)

    @property
    def end_ts(self) -> datetime:
        """The first instant after the range (UTC)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), UTC)

    def query_params(self) -> dict[str, str]:
        """The URL query params that give this range back through `from_query_params`."""
        if self.preset != "custom":
            return {"range": self.preset}
        return {"range": "custom", "from": self.first.isoformat(), "to": self.last.isoformat()}


TODAY_ENV = "ANALYTICS_DASHBOARD_TODAY"


def today_utc() -> date:
    """Today (UTC), or the day `ANALYTICS_DASHBOARD_TODAY` pins it to."""
    pinned = os.environ.get(TODAY_ENV, "").strip()
    if not pinned:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(pinned)
    except ValueError:
        raise ValueError(f"{TODAY_ENV}={pinned!r} is not a day (YYYY-MM-DD); unset it") from None


def preset_range(preset: str, today: date | None = None) -> DayRange:
    """The days of a preset (not `custom`) relative to `today` (UTC today by default)."""
    today = today or today_utc()
    if preset == "yesterday":
        day = today - timedelta(days=1)
        return DayRange(preset, day, day)
    if preset in ("7d", "30d", "90d"):
        days = int(preset[:-1])
        return DayRange(preset, today - timedelta(days=days - 1), today)
    if preset == "all":
        return DayRange(preset, EARLIEST, LATEST)
    raise ValueError(f"unknown range preset {preset!r}; expected one of {', '.join(PRESETS)}")


def custom_range(first: date, last: date) -> DayRange:
    if last < first:
        first, last = last, first
    return DayRange("custom", first, last)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def from_query_params(params: Mapping[str, str], today: date | None = None) -> DayRange:
    """The range the URL names; anything missing or malformed falls back to the default."""
    preset = params.get("range", DEFAULT_PRESET)
    if preset == "custom":
        first, last = _day(params.get("from")), _day(params.get("to"))
        if first and last:
            return custom_range(first, last)
        preset = DEFAULT_PRESET
    if preset not in PRESETS:
        preset = DEFAULT_PRESET
    return preset_range(preset, today)
