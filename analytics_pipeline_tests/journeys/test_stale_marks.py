"""Late data marks funnel days stale durably: the mark is committed with the journeys, so a
run that dies before telling Dagster leaves it for the next run to report."""

from __future__ import annotations

from datetime import UTC, date, datetime

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
