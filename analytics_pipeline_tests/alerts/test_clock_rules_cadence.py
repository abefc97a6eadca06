"""evaluate_rules without the clock rules (the live tail evaluates them on its own cadence):
the event rules still alert and move the watermark; a due clock rule waits for an evaluation
with them, and then alerts once."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics_pipeline.alerts.evaluation import evaluate_rules
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
        assert without.watermark_after == 1
        assert "onboarding_stalled" not in without.new_by_rule
        assert without.watching == {} and without.next_clock_check_at is None
        with_clock = evaluate_rules(conn, now=now, thresholds=thresholds, slack_enabled=False)
        assert with_clock.new_by_rule.get("onboarding_stalled") == 1
        again = evaluate_rules(conn, now=now, thresholds=thresholds, slack_enabled=False)
        assert again.new_alerts == 0
    finally:
        conn.close()
    assert [a["rule"] for a in journey.alerts()].count("onboarding_stalled") == 1
