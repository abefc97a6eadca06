"""A Slack outage of any length never fails an alert (SPEC §7): through real slack_sdk and the
stub answering 500, then 429 with a long Retry-After, then nothing at all, every alert stays
pending, visibly, with no attempt counted; once Slack is back each arrives exactly once."""

from __future__ import annotations

import dagster as dg

from analytics_pipeline.alerts.thresholds import MAX_SEND_ATTEMPTS
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.alerts.conftest import AlertsRunner, Journey, minutes_ago
from analytics_pipeline_tests.fixtures.slack import SlackStub

USERS = ["user-1", "user-2", "user-3"]


def observation(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    metadata = event.event_specific_data.asset_observation.metadata
    return {key: value.value for key, value in metadata.items()}


def impatient(slack_stub: SlackStub) -> SlackResource:
    """The send job's Slack, timing out after 1 s so a silent Slack costs the test little."""
    return SlackResource(bot_token=slack_stub.token, api_url=slack_stub.api_url, timeout_s=1)


def rows(journey: Journey) -> list[tuple]:
    return journey.query(
        "SELECT alert_key, status, attempts, last_error, updated_at FROM alerts "
        "ORDER BY event_ts, alert_key"
    )


def test_slack_down_for_longer_than_every_retry_budget_fails_no_alert(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    for n, user in enumerate(USERS):
        journey.add("signed_up", minutes_ago(3 - n), user=user)
    journey.commit()
    alerts_runner.evaluate()
    slack = impatient(slack_stub)
    phases = [
        ({"status": 500}, "internal_error (HTTP 500)"),
        ({"status": 503}, "internal_error (HTTP 503)"),
        ({"status": 429, "retry_after": 120}, "ratelimited (HTTP 429)"),
        ({"hang": 30}, "no answer from Slack (TimeoutError"),
        ({"drop": True}, "no answer from Slack (RemoteDisconnected"),
        ({"status": 500}, "internal_error (HTTP 500)"),
    ]
    runs = 0
    previous_update = None
    for fault, error in phases:
        slack_stub.outage(fault)
        result = alerts_runner.send(slack=slack)
        runs += 1
        assert result.success, fault  # an outage is not a failed run: the alerts wait
        assert observation(result)["failed"] == 0 and observation(result)["pending"] == 3
        (first, *others) = rows(journey)
        assert first[1:3] == ("pending", 0), fault
        assert error in first[3], (fault, first[3])
        assert previous_update is None or first[4] > previous_update  # visibly retried
        previous_update = first[4]
        # Sending stops at the first sign of trouble: the others wait untouched.
        assert [row[1:4] for row in others] == [("pending", 0, None)] * 2
        if fault.get("status") == 429:
            assert observation(result)["retry_after_s"] == 120
    assert runs > MAX_SEND_ATTEMPTS
    assert slack_stub.messages() == []

    slack_stub.outage(None)
    result = alerts_runner.send(slack=slack)

    messages = slack_stub.messages("#portal-alerts")
    assert [m["text"].split("`")[1] for m in messages] == USERS
    assert [(a["status"], a["attempts"], a["last_error"]) for a in journey.alerts()] == [
        ("sent", 0, None)
    ] * 3
    assert [a["slack_ts"] for a in journey.alerts()] == [m["ts"] for m in messages]
    assert observation(result)["pending"] == 0 and observation(result)["failed"] == 0
    alerts_runner.send(slack=slack)
    assert len(slack_stub.messages()) == 3


def test_only_slack_refusing_the_message_counts_toward_failed(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    refusal = {"error": "invalid_blocks"}
    slack_stub.fail(
        "chat.postMessage", [refusal, {"status": 500}, refusal, {"hang": 10}, {"status": 502}]
    )

    for _ in range(5):
        alerts_runner.send(slack=impatient(slack_stub), max_attempts=3)

    (alert,) = journey.alerts()
    assert (alert["status"], alert["attempts"]) == ("pending", 2)  # two refusals, three outages
    slack_stub.fail("chat.postMessage", [refusal])
    alerts_runner.send(slack=impatient(slack_stub), max_attempts=3)
    (alert,) = journey.alerts()
    assert (alert["status"], alert["attempts"]) == ("failed", 3)
    assert "invalid_blocks" in alert["last_error"]
    assert slack_stub.messages() == []
