"""The range presets' "today": the server's UTC date, or the day ANALYTICS_DASHBOARD_TODAY pins
(the browser tests pin it to their seeded lake's day, so midnight UTC cannot split them)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from analytics_pipeline.dashboard import ranges


def test_today_is_the_utc_date_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ranges.TODAY_ENV, raising=False)
    before = datetime.now(UTC).date()
    today = ranges.today_utc()
    assert today in {before, datetime.now(UTC).date()}


def test_a_pinned_today_moves_every_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ranges.TODAY_ENV, "2001-01-09")
    assert ranges.today_utc() == date(2001, 1, 9)
    assert ranges.preset_range("yesterday") == ranges.DayRange(
        "yesterday", date(2001, 1, 8), date(2001, 1, 8)
    )
    assert ranges.preset_range("7d") == ranges.DayRange("7d", date(2001, 1, 3), date(2001, 1, 9))
    assert ranges.from_query_params({}).last == date(2001, 1, 9)


def test_a_malformed_pinned_today_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ranges.TODAY_ENV, "tomorrow")
    with pytest.raises(ValueError, match=ranges.TODAY_ENV):
        ranges.today_utc()
