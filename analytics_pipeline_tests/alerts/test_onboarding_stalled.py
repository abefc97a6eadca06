"""`onboarding_stalled` (SPEC §7): a user who signed up ANALYTICS_STALLED_AFTER_MINUTES ago with
no meaningful action since, alerted once per user when the time passes, with no new event.

First the rule as a pure function of events and a clock, then through the lake (the `alerts`
asset at an injected time), then the real path: Kafka → an ingest run → send_alerts → the
Slack stub, with the send run's clock set 31 minutes ahead instead of waiting.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import dagster as dg
import pytest

from analytics_pipeline.alerts.messages import render
from analytics_pipeline.alerts.model import ActionEvent, OutboxAlert
from analytics_pipeline.alerts.rule_record import ClockRule
from analytics_pipeline.alerts.rules import RULE_NAMES, rule_named
from analytics_pipeline.alerts.rules.onboarding_stalled import stalled_users
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.dashboard.queries import alerts as alert_queries
from analytics_pipeline.events.actions import MEANINGFUL_ACTIONS
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.settings import ConfigError, load_settings
from analytics_pipeline_tests.alerts.conftest import AlertsRunner, Journey, materialization_metadata
from analytics_pipeline_tests.alerts.test_alerts_end_to_end import ingest_definitions
from analytics_pipeline_tests.fixtures.slack import SlackStub

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TH = Thresholds()
_ids = count()


def event(action: str, at: datetime, user: str | None = "user-7") -> ActionEvent:
    return ActionEvent(event_id=f"e{next(_ids)}", user_id=user, ts=at, action=action)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


# -- the rule ---------------------------------------------------------------------------------


def test_an_idle_user_is_stalled_from_exactly_the_threshold_after_signing_up() -> None:
    signup = [event("signed_up", T0)]
    before = stalled_users(signup, T0 + minutes(30) - timedelta(seconds=1), TH)
    assert before.alerts == []
    assert before.watching == 1 and before.next_due_at == T0 + minutes(30)

    (alert,) = stalled_users(signup, T0 + minutes(30), TH).alerts
    assert alert.key == "onboarding_stalled:user-7" and alert.rule == "onboarding_stalled"
    assert alert.user_id == "user-7" and alert.event_ts == T0
    assert alert.details["threshold_minutes"] == 30


def test_any_meaningful_action_since_the_signup_means_not_stalled() -> None:
    for action in sorted(MEANINGFUL_ACTIONS):
        events = [event("signed_up", T0), event(action, T0 + minutes(5))]
        result = stalled_users(events, T0 + minutes(45), TH)
        assert result.alerts == [] and result.watching == 0, action
    # Even one that came after the threshold: at evaluation time the user is going.
    late = [event("signed_up", T0), event("code_run", T0 + minutes(35))]
    assert stalled_users(late, T0 + minutes(40), TH).alerts == []


def test_other_actions_and_other_users_actions_do_not_count() -> None:
    events = [
        event("signed_up", T0),
        event("logged_in", T0 + minutes(1)),
        event("page_viewed", T0 + minutes(2)),
        event("project_created", T0 + minutes(3)),  # not meaningful (SPEC §5)
        event("topic_created", T0 + minutes(4), user="someone-else"),
        event("topic_created", T0 + minutes(4), user=None),
        event("code_run", T0 - minutes(1)),  # before the sign-up: not "since"
    ]
    (alert,) = stalled_users(events, T0 + minutes(31), TH).alerts
    assert alert.user_id == "user-7"


def test_a_user_alerts_once_from_their_first_signup() -> None:
    events = [event("signed_up", T0), event("signed_up", T0 + minutes(10))]
    (alert,) = stalled_users(events, T0 + minutes(50), TH).alerts
    assert alert.key == "onboarding_stalled:user-7" and alert.event_ts == T0


def test_signups_older_than_24_hours_never_alert() -> None:
    signup = [event("signed_up", T0)]
    assert stalled_users(signup, T0 + timedelta(hours=24, seconds=1), TH).alerts == []
    assert stalled_users(signup, T0 + timedelta(hours=24), TH).alerts != []


def test_the_stalled_threshold_follows_the_setting() -> None:
    signup = [event("signed_up", T0)]
    quick = Thresholds.from_settings(stalled_after_minutes=5)
    assert len(stalled_users(signup, T0 + minutes(5), quick).alerts) == 1
    assert stalled_users(signup, T0 + minutes(5), TH).alerts == []


def test_the_setting_defaults_to_30_minutes_and_rejects_bad_values() -> None:
    assert load_settings({}).stalled_after_minutes == 30
    assert load_settings({"ANALYTICS_STALLED_AFTER_MINUTES": "45"}).stalled_after_minutes == 45
    for bad in ("0", "-5", "half an hour"):
        with pytest.raises(ConfigError, match="ANALYTICS_STALLED_AFTER_MINUTES"):
            load_settings({"ANALYTICS_STALLED_AFTER_MINUTES": bad})


def test_the_rule_is_a_registered_clock_rule_the_dashboard_lists() -> None:
    assert isinstance(rule_named("onboarding_stalled"), ClockRule)
    assert "onboarding_stalled" in RULE_NAMES
    assert "onboarding_stalled" in alert_queries.ALERT_RULES


def test_its_message_is_clear_and_escapes_the_user_id() -> None:
    details = {"signed_up_at": T0.isoformat(), "threshold_minutes": 30.0}
    message = render(
        OutboxAlert("onboarding_stalled:u", "onboarding_stalled", "<!channel>", T0, details)
    )
    everything = message.text + json.dumps(message.blocks)
    assert "Onboarding stalled" in message.text
    assert "no meaningful action for 30 minutes" in message.text
    assert "2026-11-26 10:00:00 UTC" in message.text
    assert "<!channel>" not in everything and "`&lt;!channel&gt;`" in message.text
    assert message.blocks[0]["type"] == "section"


# -- through the lake -------------------------------------------------------------------------


def test_the_alerts_asset_finds_the_stalled_user_once_and_says_when_to_look_again(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    journey.add("signed_up", start, user="idle")
    journey.add("signed_up", start, user="busy")
    journey.add("topic_created", start + minutes(10), user="busy", project_id="p-1")
    journey.commit()

    before = materialization_metadata(alerts_runner.evaluate(now=start + minutes(29)))
    assert before["new_onboarding_stalled"] == 0 and before["signups_watched"] == 1
    assert before["next_clock_check_at"] == (start + minutes(30)).timestamp()

    due = materialization_metadata(alerts_runner.evaluate(now=start + minutes(31)))
    assert due["new_onboarding_stalled"] == 1 and due["signups_watched"] == 0
    later = materialization_metadata(alerts_runner.evaluate(now=start + minutes(50)))
    assert later["new_onboarding_stalled"] == 0

    stalled = [a for a in journey.alerts() if a["rule"] == "onboarding_stalled"]
    assert [(a["alert_key"], a["status"]) for a in stalled] == [
        ("onboarding_stalled:idle", "pending")
    ]


# -- the real path: Kafka → ingest run → send_alerts → Slack ----------------------------------


def api_request(user_id: str, method: str, path: str, status: int) -> dict[str, Any]:
    return {
        "event_id": f"req-{uuid.uuid4().hex}",
        "type": "api_request",
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "user_id": user_id,
        "request": {"method": method, "path": path, "status": status, "duration_ms": 9},
    }


def test_a_stalled_user_is_posted_to_slack_once_and_an_active_user_never(
    new_topics: Callable[..., tuple[str, str]],
    produce: Callable[..., list[tuple[int, int]]],
    kafka_bootstrap: str,
    dagster_instance: dg.DagsterInstance,
    warehouse: WarehouseResource,
    slack_resource: SlackResource,
    slack_stub: SlackStub,
) -> None:
    idle, busy = (f"user-{uuid.uuid4().hex[:6]}" for _ in range(2))
    clickstream, backend = new_topics(partitions=1)
    events = [
        api_request(idle, "POST", "/auth/signup", 201),
        api_request(busy, "POST", "/auth/signup", 201),
        api_request(busy, "POST", "/projects/p-1/topics", 201),  # topic_created: meaningful
    ]
    produce(backend, events, partition=0)
    signed_up_at = min(datetime.fromisoformat(e["ts"].replace("Z", "+00:00")) for e in events[:2])
    defs = ingest_definitions(kafka_bootstrap, clickstream, backend, warehouse, slack_resource)
    ranges = {"ranges": [{"partition": 0, "start": 0, "end": len(events)}]}

    ingest = defs.resolve_job_def("ingest_backend").execute_in_process(
        instance=dagster_instance, run_config={"ops": {"raw_backend_events": {"config": ranges}}}
    )
    (materialization,) = ingest.asset_materializations_for_node("alerts")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["new_onboarding_stalled"] == 0 and metadata["signups_watched"] == 1
    # The sensor launches send_alerts then (test_send_alerts_sensor covers the launch).
    assert metadata["next_clock_check_at"] >= (signed_up_at + minutes(30)).timestamp()

    def stalled_posts() -> list[dict[str, Any]]:
        return [
            m for m in slack_stub.messages("#portal-alerts") if "Onboarding stalled" in m["text"]
        ]

    send = defs.resolve_job_def("send_alerts")
    for ahead in (29, 31, 45):  # the send run's clock; no test waits half an hour
        at = datetime.now(UTC) + minutes(ahead)
        config = {"ops": {"send_pending_alerts": {"config": {"evaluate_at": at.isoformat()}}}}
        send.execute_in_process(instance=dagster_instance, run_config=config)
        if ahead == 29:
            assert stalled_posts() == []

    (post,) = stalled_posts()
    assert f"`{idle}`" in post["text"] and busy not in post["text"]
    signups = [m for m in slack_stub.messages("#portal-alerts") if "New sign-up" in m["text"]]
    assert len(signups) == 2  # both users' sign-ups, posted by the ingest run
