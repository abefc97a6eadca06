"""evaluate_rules as the live tail calls it: without the clock rules (it evaluates them on its
own cadence), and finding what is new in the catalog's change log (warehouse/snapshots.py)
instead of scanning the journey tables for their newest snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics_pipeline.alerts.evaluation import RulesReport, evaluate_rules
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.warehouse import connect
from analytics_pipeline_tests.alerts.conftest import Journey, minutes_ago


def test_clock_rules_left_out_wait_for_the_next_evaluation_with_them(journey: Journey) -> None:
    now = datetime.now(UTC)
    journey.add("signed_up", minutes_ago(45, now), user="stalled-1").commit()
    thresholds = Thresholds.from_settings()
    conn = connect(journey.path)
    try:
        without = evaluate_rules(
            conn, now=now, thresholds=thresholds, slack_enabled=False, clock_rules=False
        )
        assert without.watermark_after == journey.snapshot
        assert "onboarding_stalled" not in without.new_by_rule
        assert without.watching == {} and without.next_clock_check_at is None
        with_clock = evaluate_rules(conn, now=now, thresholds=thresholds, slack_enabled=False)
        assert with_clock.new_by_rule.get("onboarding_stalled") == 1
        again = evaluate_rules(conn, now=now, thresholds=thresholds, slack_enabled=False)
        assert again.new_alerts == 0
    finally:
        conn.close()
    assert [a["rule"] for a in journey.alerts()].count("onboarding_stalled") == 1


def test_the_rules_take_what_is_new_from_the_change_log_whoever_committed_it(
    journey: Journey,
) -> None:
    """Journey events committed in several snapshots are all read, up to the newest; a commit
    that added no journey events (here: one to another table) moves nothing."""
    now = datetime.now(UTC)
    thresholds = Thresholds.from_settings()
    journey.add("signed_up", minutes_ago(1, now), user="log-1").commit()
    journey.add("signed_up", minutes_ago(1, now), user="log-2").commit()
    conn = connect(journey.path)
    try:

        def evaluate() -> RulesReport:
            return evaluate_rules(conn, now=now, thresholds=thresholds, slack_enabled=False)

        both = evaluate()
        assert (both.watermark_after, both.new_by_rule) == (journey.snapshot, {"new_signup": 2})
        conn.execute(
            "INSERT INTO report_deliveries (day, stage, status, delivered_at) "
            "VALUES ('2026-03-02', 'activated', 'sent', now())"
        )
        quiet = evaluate()
        assert (quiet.watermark_after, quiet.events_read) == (journey.snapshot, 0)
        journey.add("signed_up", minutes_ago(1, now), user="log-3").commit()
        added = evaluate()
        assert added.watermark_before == both.watermark_after
        assert (added.watermark_after, added.new_by_rule) == (journey.snapshot, {"new_signup": 1})
    finally:
        conn.close()
    assert sorted(a["alert_key"] for a in journey.alerts()) == [
        "new_signup:log-1",
        "new_signup:log-2",
        "new_signup:log-3",
    ]
