"""The `alerts` asset: rules run by real Dagster on a real DuckDB file, each key stored once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.alerts.conftest import (
    AlertsRunner,
    Journey,
    materialization_metadata,
    minutes_ago,
)


def test_a_signup_becomes_one_pending_alert_and_reruns_store_nothing_more(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()

    first = materialization_metadata(alerts_runner.evaluate())
    second = materialization_metadata(alerts_runner.evaluate())

    assert first["new_alerts"] == 1 and first["new_new_signup"] == 1 and first["pending"] == 1
    assert second["new_alerts"] == 0 and second["pending"] == 1
    assert [(a["alert_key"], a["status"]) for a in journey.alerts()] == [
        ("new_signup:user-1", "pending")
    ]
    # the watermark is the snapshot that committed the journey events (journey.commit)
    assert journey.query("SELECT value FROM pipeline_watermarks WHERE name = 'alerts'") == [
        (journey.snapshot,)
    ]


def test_re_evaluating_already_seen_events_from_scratch_stores_no_duplicate(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    journey.add("signed_up", minutes_ago(3), user="user-1")
    journey.add("deployment_failed", minutes_ago(2), deployment_id="d-1", error_message="x")
    journey.commit()
    alerts_runner.evaluate()
    # Someone resets the watermark (a replay): the same events are evaluated again.
    journey.query("DELETE FROM pipeline_watermarks WHERE name = 'alerts'")
    replay = materialization_metadata(alerts_runner.evaluate())

    assert replay["new_alerts"] == 0
    assert sorted(a["alert_key"] for a in journey.alerts()) == [
        "deployment_failed:d-1",
        "new_signup:user-1",
    ]


def test_many_small_batches_give_one_alert_per_key(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    now = datetime.now(UTC).replace(minute=30)
    if now > datetime.now(UTC):
        now -= timedelta(hours=1)
    for i in range(4):  # one api_error per batch, a minute apart, all in one hour
        journey.add("api_error", now - timedelta(minutes=10 - i), path="/projects", status=502)
        journey.add("signed_up", now - timedelta(minutes=10 - i), user="user-2")
        journey.commit()
        alerts_runner.evaluate(now=now)

    keys = [a["alert_key"] for a in journey.alerts()]
    assert keys == ["new_signup:user-2", f"api_errors:user-7:{now:%Y-%m-%dT%H}"]


def test_a_window_is_completed_by_an_event_of_a_later_batch(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    journey.add("api_error", minutes_ago(4)).add("api_error", minutes_ago(3)).commit()
    assert materialization_metadata(alerts_runner.evaluate())["new_alerts"] == 0

    journey.add("api_error", minutes_ago(2)).commit()
    assert materialization_metadata(alerts_runner.evaluate())["new_api_errors"] == 1


def test_login_failures_followed_by_a_success_in_the_same_data_raise_nothing(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    for m in (6, 5, 4):
        journey.add("login_failed", minutes_ago(m))
    journey.add("logged_in", minutes_ago(3)).commit()
    assert materialization_metadata(alerts_runner.evaluate())["new_alerts"] == 0

    for m in (2, 1.5, 1):
        journey.add("login_failed", minutes_ago(m))
    journey.commit()
    assert materialization_metadata(alerts_runner.evaluate())["new_login_trouble"] == 1


def test_replayed_history_older_than_24_hours_raises_no_alert(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=24, minutes=1)
    journey.add("signed_up", long_ago, user="old-user")
    journey.add("deployment_failed", long_ago, deployment_id="d-old", error_message="x")
    for s in range(3):
        journey.add("api_error", long_ago + timedelta(seconds=s))
    journey.commit()

    metadata = materialization_metadata(alerts_runner.evaluate())

    assert metadata["new_alerts"] == 0 and journey.alerts() == []
    assert metadata["watermark"] == journey.snapshot  # seen, and never looked at again


def test_the_clock_rule_runs_with_an_injected_clock(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    journey.add("deployment_started", start, deployment_id="d-fast")
    journey.add(
        "deployment_completed", start + timedelta(minutes=9, seconds=59), deployment_id="d-fast"
    )
    journey.add("deployment_started", start, deployment_id="d-slow")
    journey.commit()

    before = materialization_metadata(alerts_runner.evaluate(now=start + timedelta(minutes=9)))
    assert before["new_alerts"] == 0 and before["open_deployments"] == 1  # d-slow
    assert before["next_clock_check_at"] == (start + timedelta(minutes=10)).timestamp()

    after = alerts_runner.evaluate(now=start + timedelta(minutes=10, seconds=1))
    assert materialization_metadata(after)["new_deployment_slow"] == 1
    assert [a["alert_key"] for a in journey.alerts()] == ["deployment_slow:d-slow"]


def test_the_slow_threshold_follows_the_setting(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    journey.add("deployment_started", start, deployment_id="d-1").commit()
    at = start + timedelta(minutes=3)
    assert materialization_metadata(alerts_runner.evaluate(now=at))["new_alerts"] == 0
    result = alerts_runner.evaluate(now=at, deploy_slow_minutes=2)
    assert materialization_metadata(result)["new_deployment_slow"] == 1


def test_without_a_slack_token_alerts_are_recorded_skipped_with_a_hint(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-3").commit()
    off = SlackResource(bot_token=None, api_url=alerts_runner.slack.api_url)

    result = alerts_runner.evaluate(slack=off)

    metadata = materialization_metadata(result)
    assert metadata["pending"] == 0 and metadata["skipped"] == 1
    assert [a["status"] for a in journey.alerts()] == ["skipped"]
    logs = alerts_runner.instance.all_logs(result.run_id)
    assert any("SLACK_BOT_TOKEN" in (log.user_message or "") for log in logs)
