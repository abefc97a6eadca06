"""evaluate_rules as the live tail calls it: without the clock rules (it evaluates them on its
own cadence), and with the journeys update it just committed (no look-up of the newest batch)."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics_pipeline.alerts.evaluation import JourneysUpdate, RulesReport, evaluate_rules
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


def test_a_journeys_update_spares_the_newest_batch_look_up_only_where_it_started(
    journey: Journey,
) -> None:
    """The live tail passes the journeys update it just committed: trusted when the rules'
    watermark is where the update started; otherwise the look-up runs (the rules lagged)."""
    now = datetime.now(UTC)
    thresholds = Thresholds.from_settings()
    journey.add("signed_up", minutes_ago(1, now), user="hint-1").commit()  # batch 1
    journey.add("signed_up", minutes_ago(1, now), user="hint-2").commit()  # batch 2
    conn = connect(journey.path)
    try:

        def evaluate(update: JourneysUpdate) -> RulesReport:
            return evaluate_rules(
                conn, now=now, thresholds=thresholds, slack_enabled=False, journeys=update
            )

        # The rules' watermark (0) is not where this update started (1): batch 1 is read too.
        lagging = evaluate(JourneysUpdate(1, 2, True))
        assert (lagging.watermark_after, lagging.new_by_rule) == (2, {"new_signup": 2})
        # An update from 2 to 5 that added no events: nothing is read, the watermark moves.
        empty = evaluate(JourneysUpdate(2, 5, False))
        assert (empty.watermark_after, empty.events_read, empty.new_alerts) == (5, 0, 0)
        journey.batch = 5
        journey.add("signed_up", minutes_ago(1, now), user="hint-3").commit()  # batch 6
        added = evaluate(JourneysUpdate(5, 6, True))
        assert (added.watermark_after, added.new_by_rule) == (6, {"new_signup": 1})
    finally:
        conn.close()
    assert sorted(a["alert_key"] for a in journey.alerts()) == [
        "new_signup:hint-1",
        "new_signup:hint-2",
        "new_signup:hint-3",
    ]
