"""Late data marks funnel days stale durably: the mark is committed with the journeys, so a
run that dies before telling Dagster leaves it for the next run to report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from analytics_pipeline.journeys.derive import mark_stale_reported, update_journeys
from analytics_pipeline_tests.journeys.conftest import TOPICS
from analytics_pipeline_tests.journeys.raw_events import at, code_run, signup


def test_a_stale_day_no_run_reported_is_reported_by_the_next_run(conn, raw):
    raw.add(signup("u1", at("2026-03-01", 10)), code_run("u1", at("2026-03-02")))
    first = update_journeys(conn, **TOPICS)
    assert first.unreported_stale_from == date(2026, 3, 1)
    # The run dies here, before its materialisation (with funnel_stale_from) is logged.

    raw.add(code_run("u1", at("2026-03-09")))
    second = update_journeys(conn, **TOPICS)
    assert second.earliest_funnel_day == date(2026, 3, 9)
    assert second.unreported_stale_from == date(2026, 3, 1), "the lost report is not lost"

    mark_stale_reported(conn, second.watermark, datetime.now(UTC))
    assert update_journeys(conn, **TOPICS).unreported_stale_from is None
    raw.add(code_run("u1", at("2026-03-12")))
    assert update_journeys(conn, **TOPICS).unreported_stale_from == date(2026, 3, 12)


def test_a_change_of_todays_funnel_leaves_no_mark(conn, raw):
    """Today's funnel partition cannot exist before the day ends (so cannot be stale): live
    traffic, which changes today in every micro-batch, writes no mark; a past day still does."""
    today = (datetime.now(UTC) + timedelta(minutes=10)).date()  # derive's commit margin
    raw.add(signup("u1", at(today, 0, 1)), code_run("u1", at(today, 0, 2)))
    live = update_journeys(conn, **TOPICS)
    assert live.earliest_funnel_day == today
    assert live.unreported_stale_from is None
    assert conn.execute("SELECT count(*) FROM funnel_stale_marks").fetchone() == (0,)

    raw.add(code_run("u1", at(today - timedelta(days=1))))
    late = update_journeys(conn, **TOPICS)
    assert late.unreported_stale_from == today - timedelta(days=1)
