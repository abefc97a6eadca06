"""The alert rules (SPEC §7) at their boundaries, as pure functions of events and a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from analytics_pipeline.alerts.model import ActionEvent
from analytics_pipeline.alerts.rules import evaluate_event_rules
from analytics_pipeline.alerts.rules.api_errors import repeated_api_errors
from analytics_pipeline.alerts.rules.deployment_failed import failed_deployments
from analytics_pipeline.alerts.rules.deployment_slow import slow_deployments
from analytics_pipeline.alerts.rules.login_trouble import login_trouble
from analytics_pipeline.alerts.rules.new_signup import new_signups
from analytics_pipeline.alerts.thresholds import Thresholds

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TH = Thresholds()
_ids = count()


def event(action: str, at: datetime, user: str | None = "user-7", **details: Any) -> ActionEvent:
    return ActionEvent(
        event_id=f"e{next(_ids)}", user_id=user, ts=at, action=action, details=details
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_a_signup_alerts_once_per_user_with_a_stable_key() -> None:
    events = [event("signed_up", T0), event("signed_up", T0 + minutes(1))]
    (alert,) = new_signups(events, T0 + minutes(2), TH)
    assert alert.key == "new_signup:user-7"
    assert alert.event_ts == T0


def test_events_older_than_24_hours_never_alert() -> None:
    now = T0 + timedelta(hours=24, seconds=1)
    assert new_signups([event("signed_up", T0)], now, TH) == []
    assert new_signups([event("signed_up", T0)], T0 + timedelta(hours=24), TH) != []
    old_failure = [event("deployment_failed", T0, deployment_id="d-1")]
    assert failed_deployments(old_failure, now, TH) == []
    errors = [event("api_error", T0 + minutes(i)) for i in range(3)]
    assert repeated_api_errors(errors, T0 + minutes(2) + timedelta(hours=24, seconds=1), TH) == []


def test_two_api_errors_within_five_minutes_do_not_alert_three_do() -> None:
    two = [event("api_error", T0), event("api_error", T0 + minutes(4))]
    assert repeated_api_errors(two, T0 + minutes(5), TH) == []

    three = [*two, event("api_error", T0 + minutes(5), path="/projects", status=503)]
    (alert,) = repeated_api_errors(three, T0 + minutes(6), TH)
    assert alert.key == "api_errors:user-7:2026-11-26T10"
    assert alert.details["count"] == 3


def test_three_api_errors_spread_over_more_than_five_minutes_do_not_alert() -> None:
    spread = [
        event("api_error", T0),
        event("api_error", T0 + minutes(3)),
        event("api_error", T0 + minutes(5) + timedelta(seconds=1)),
    ]
    assert repeated_api_errors(spread, T0 + minutes(10), TH) == []


def test_api_errors_of_different_users_are_not_added_up() -> None:
    mixed = [
        event("api_error", T0, user="a"),
        event("api_error", T0 + minutes(1), user="b"),
        event("api_error", T0 + minutes(2), user="a"),
    ]
    assert repeated_api_errors(mixed, T0 + minutes(3), TH) == []


def test_api_errors_alert_once_per_user_and_hour() -> None:
    burst = [event("api_error", T0 + minutes(50 + i)) for i in range(15)]  # 10:50 .. 11:04
    alerts = repeated_api_errors(burst, T0 + minutes(70), TH)
    assert [a.key for a in alerts] == [
        "api_errors:user-7:2026-11-26T10",
        "api_errors:user-7:2026-11-26T11",
    ]


def test_three_login_failures_within_ten_minutes_alert() -> None:
    failures = [event("login_failed", T0 + minutes(m)) for m in (0, 5, 10)]
    (alert,) = login_trouble(failures, T0 + minutes(11), TH)
    assert alert.key == "login_trouble:user-7:2026-11-26T10"


def test_login_failures_followed_by_a_success_do_not_alert() -> None:
    failures = [event("login_failed", T0 + minutes(m)) for m in (0, 1, 2)]
    success = event("logged_in", T0 + minutes(3))
    assert login_trouble([*failures, success], T0 + minutes(4), TH) == []


def test_login_failures_after_the_last_success_still_alert() -> None:
    before = [event("login_failed", T0 + minutes(m)) for m in (0, 1)]
    success = event("logged_in", T0 + minutes(2))
    after = [event("login_failed", T0 + minutes(m)) for m in (3, 4)]
    assert login_trouble([*before, success, *after], T0 + minutes(5), TH) == []
    third = event("login_failed", T0 + minutes(6))
    (alert,) = login_trouble([*before, success, *after, third], T0 + minutes(7), TH)
    assert alert.details["count"] == 3


def test_login_failures_spread_over_more_than_ten_minutes_do_not_alert() -> None:
    failures = [event("login_failed", T0 + minutes(m)) for m in (0, 5, 10.1)]
    assert login_trouble(failures, T0 + minutes(11), TH) == []


def test_a_failed_deployment_alerts_once_with_its_error_message() -> None:
    events = [
        event("deployment_failed", T0, deployment_id="d-1", error_message="OOMKilled"),
        event("deployment_failed", T0 + minutes(1), deployment_id="d-1", error_message="again"),
    ]
    (alert,) = failed_deployments(events, T0 + minutes(2), TH)
    assert alert.key == "deployment_failed:d-1"
    assert alert.details["error_message"] == "OOMKilled"


def test_a_deployment_completed_just_before_the_threshold_is_not_slow() -> None:
    events = [
        event("deployment_started", T0, deployment_id="d-1"),
        event("deployment_completed", T0 + minutes(10) - timedelta(seconds=1), deployment_id="d-1"),
    ]
    clock = slow_deployments(events, T0 + minutes(10) + timedelta(seconds=1), TH)
    assert clock.alerts == [] and clock.watching == 0


def test_a_deployment_still_open_just_after_the_threshold_is_slow() -> None:
    started = [event("deployment_started", T0, deployment_id="d-1")]
    before = slow_deployments(started, T0 + minutes(10) - timedelta(seconds=1), TH)
    assert before.alerts == []
    assert before.watching == 1 and before.next_due_at == T0 + minutes(10)

    after = slow_deployments(started, T0 + minutes(10) + timedelta(seconds=1), TH)
    (alert,) = after.alerts
    assert alert.key == "deployment_slow:d-1"
    assert alert.details["finished_as"] is None


def test_the_slow_threshold_is_configurable() -> None:
    started = [event("deployment_started", T0, deployment_id="d-1")]
    quick = Thresholds.from_settings(deploy_slow_minutes=2)
    assert len(slow_deployments(started, T0 + minutes(3), quick).alerts) == 1
    assert slow_deployments(started, T0 + minutes(3), TH).alerts == []


def test_a_deployment_that_finished_late_was_slow() -> None:
    events = [
        event("deployment_started", T0, deployment_id="d-1"),
        event("deployment_failed", T0 + minutes(12), deployment_id="d-1"),
    ]
    (alert,) = slow_deployments(events, T0 + minutes(13), TH).alerts
    assert alert.details["finished_as"] == "deployment_failed"


def test_a_deployment_started_more_than_24_hours_ago_is_not_reported_slow() -> None:
    started = [event("deployment_started", T0, deployment_id="d-1")]
    assert slow_deployments(started, T0 + timedelta(hours=24, seconds=1), TH).alerts == []


def test_evaluating_the_same_events_twice_gives_the_same_keys() -> None:
    events = [
        event("signed_up", T0),
        *[event("api_error", T0 + minutes(i)) for i in range(4)],
        event("deployment_failed", T0, deployment_id="d-9", error_message="boom"),
    ]
    first = evaluate_event_rules(events, T0 + minutes(5), TH)
    second = evaluate_event_rules(list(reversed(events)), T0 + minutes(5), TH)
    assert [a.key for a in first] == [a.key for a in second]
    assert {a.rule for a in first} == {"new_signup", "api_errors", "deployment_failed"}
