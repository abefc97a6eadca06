"""The send_alerts job posts each alert exactly once through real slack_sdk to the Slack stub,
and survives rate limits, outages and bad configuration without losing anything."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.alerts.conftest import AlertsRunner, Journey, minutes_ago
from analytics_pipeline_tests.fixtures.slack import SlackStub


def observation(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    metadata = event.event_specific_data.asset_observation.metadata
    return {key: value.value for key, value in metadata.items()}


def test_pending_alerts_are_posted_once_and_rerunning_the_job_posts_nothing_more(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(2), user="user-1")
    journey.add("deployment_failed", minutes_ago(1), deployment_id="d-1", error_message="OOM")
    journey.commit()
    alerts_runner.evaluate()

    first = alerts_runner.send()
    alerts_runner.send()
    alerts_runner.evaluate()  # the rules again, on the same data
    alerts_runner.send()

    messages = slack_stub.messages("#portal-alerts")
    assert len(messages) == 2
    assert "New sign-up" in messages[0]["text"] and "`user-1`" in messages[0]["text"]
    assert "Deployment failed" in messages[1]["text"] and "OOM" in messages[1]["text"]
    assert messages[0]["blocks"][0]["type"] == "section"
    stored = journey.alerts()
    assert [a["status"] for a in stored] == ["sent", "sent"]
    assert [a["slack_ts"] for a in stored] == [m["ts"] for m in messages]
    assert observation(first)["sent_now"] == 2 and observation(first)["pending"] == 0


def test_a_burst_of_batches_posts_one_message_per_alert_key(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    for batch in range(4):
        for user in range(5):  # every batch repeats the same five sign-ups
            journey.add("signed_up", minutes_ago(10 - batch), user=f"user-{user}")
        journey.commit()
        alerts_runner.evaluate()
        if batch % 2:
            alerts_runner.send()
    alerts_runner.send()

    assert sorted(m["text"].split("`")[1] for m in slack_stub.messages()) == [
        f"user-{u}" for u in range(5)
    ]


def test_a_429_is_waited_out_and_the_alert_posted_once(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"status": 429, "retry_after": 1}])

    started = time.monotonic()
    alerts_runner.send()

    assert time.monotonic() - started >= 1.0
    assert [c["status"] for c in slack_stub.calls("chat.postMessage")] == [429, 200]
    assert len(slack_stub.messages()) == 1
    assert [a["status"] for a in journey.alerts()] == ["sent"]


def test_a_long_retry_after_leaves_the_alert_pending_for_a_later_run(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"status": 429, "retry_after": 120}])

    result = alerts_runner.send()

    assert observation(result)["retry_after_s"] == 120
    assert journey.alerts()[0]["status"] == "pending"
    assert "ratelimited" in journey.alerts()[0]["last_error"]
    alerts_runner.send()
    assert len(slack_stub.messages()) == 1


def test_a_500_leaves_the_alert_pending_and_the_next_run_posts_it_once(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(2), user="user-1")
    journey.add("signed_up", minutes_ago(1), user="user-2")
    journey.commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"status": 500}])

    first = alerts_runner.send()

    assert first.success  # a Slack outage is not a failed run; the alerts wait
    assert observation(first)["pending"] == 2 and observation(first)["retry_after_s"] == 60
    # Slack's trouble is not the alert's: no attempt counted, the error shown on the one tried.
    assert [(a["status"], a["attempts"], a["last_error"]) for a in journey.alerts()] == [
        ("pending", 0, "internal_error (HTTP 500)"),
        ("pending", 0, None),
    ]
    assert slack_stub.messages() == []

    alerts_runner.send()
    assert [m["text"].split("`")[1] for m in slack_stub.messages()] == ["user-1", "user-2"]
    assert [a["status"] for a in journey.alerts()] == ["sent", "sent"]


def test_an_unreachable_slack_leaves_alerts_pending(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    nowhere = SlackResource(bot_token="xoxb-test-token", api_url="http://127.0.0.1:9/api/")

    result = alerts_runner.send(slack=nowhere)

    assert result.success
    (alert,) = journey.alerts()
    assert alert["status"] == "pending" and alert["attempts"] == 0
    assert "network error" in alert["last_error"]


def test_invalid_auth_fails_the_run_saying_what_to_fix_and_loses_nothing(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    wrong = SlackResource(bot_token="not-a-bot-token-s3cr3t", api_url=slack_stub.api_url)

    result = alerts_runner.send(slack=wrong, raise_on_error=False)

    assert not result.success
    failure = result.failure_data_for_node("send_pending_alerts")
    message = failure.error.message if failure and failure.error else ""
    assert "invalid_auth" in message and "SLACK_BOT_TOKEN" in message
    logs = json.dumps([log.user_message for log in alerts_runner.instance.all_logs(result.run_id)])
    assert "s3cr3t" not in message and "s3cr3t" not in logs
    assert [(a["status"], a["attempts"]) for a in journey.alerts()] == [("pending", 0)]

    alerts_runner.send()  # the token is fixed
    assert len(slack_stub.messages()) == 1
    assert journey.alerts()[0]["status"] == "sent"


def test_an_unknown_channel_fails_the_run_naming_the_setting(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"error": "channel_not_found"}])

    result = alerts_runner.send(raise_on_error=False)

    failure = result.failure_data_for_node("send_pending_alerts")
    assert failure is not None and "SLACK_ALERTS_CHANNEL" in failure.error.message
    assert journey.alerts()[0]["status"] == "pending"


def test_user_strings_cannot_ping_the_channel(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(2), user="<!channel>")
    journey.add(
        "deployment_failed",
        minutes_ago(1),
        user="<@U123>",
        deployment_id="d-<!here>",
        error_message="disk full & <https://evil.example|click me>",
    )
    journey.commit()
    alerts_runner.evaluate()
    alerts_runner.send()

    signup, failure = slack_stub.messages()
    everything = json.dumps([signup["text"], signup["blocks"], failure["text"], failure["blocks"]])
    for raw in ("<!channel>", "<@U123>", "<!here>", "<https://evil.example|click me>"):
        assert raw not in everything
    assert "&lt;!channel&gt;" in signup["text"]
    assert "disk full &amp; &lt;https://evil.example|click me&gt;" in failure["text"]


def test_an_alert_slack_keeps_refusing_is_failed_after_max_attempts_and_the_check_warns(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"error": "invalid_blocks"}] * 3)

    first = alerts_runner.send(max_attempts=3)
    assert journey.alerts()[0]["status"] == "pending"
    for _ in range(2):
        result = alerts_runner.send(max_attempts=3)

    assert observation(first)["failed"] == 0
    (alert,) = journey.alerts()
    assert alert["status"] == "failed" and alert["attempts"] == 3
    assert "invalid_blocks" in alert["last_error"]
    assert observation(result)["failed"] == 1
    check = alerts_runner.instance.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(dg.AssetKey("alerts"), "alerts_delivered")
    )
    assert check is not None and check.evaluation is not None
    assert check.evaluation.passed is False
    alerts_runner.send()
    assert slack_stub.messages() == []  # failed alerts are not retried for ever


def test_the_send_job_notices_a_deployment_that_never_finishes(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=9)
    journey.add("deployment_started", start, deployment_id="d-7").commit()
    alerts_runner.evaluate()
    alerts_runner.send()
    assert slack_stub.messages() == []

    later = start + timedelta(minutes=10, seconds=1)
    result = alerts_runner.send(now=later)

    assert observation(result)["new_deployment_slow"] == 1
    (message,) = slack_stub.messages()
    assert "Deployment is slow" in message["text"] and "`d-7`" in message["text"]
    assert "still running after 10 minutes" in message["text"]


def test_without_a_token_pending_alerts_become_skipped_with_a_hint(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()  # Slack was configured then
    off = SlackResource(bot_token=None, api_url=slack_stub.api_url)

    result = alerts_runner.send(slack=off)

    assert result.success and observation(result)["skipped_now"] == 1
    assert journey.alerts()[0]["status"] == "skipped"
    logs = [log.user_message for log in alerts_runner.instance.all_logs(result.run_id)]
    assert any("SLACK_BOT_TOKEN" in message for message in logs)
    assert slack_stub.calls() == []


def test_the_rules_run_posts_its_new_alerts_itself(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()

    result = alerts_runner.evaluate(post=True)

    metadata = {
        k: v.value for k, v in result.asset_materializations_for_node("alerts")[0].metadata.items()
    }
    assert metadata["posted_now"] == 1 and metadata["pending"] == 0
    assert len(slack_stub.messages()) == 1
    assert journey.alerts()[0]["status"] == "sent"
    alerts_runner.evaluate(post=True)
    alerts_runner.send()
    assert len(slack_stub.messages()) == 1


def test_when_the_quick_post_fails_the_send_job_posts_the_alert_once(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    slack_stub.fail("chat.postMessage", [{"status": 503}])

    assert alerts_runner.evaluate(post=True).success  # Slack trouble never fails an ingest run
    assert [(a["status"], a["attempts"], a["last_error"]) for a in journey.alerts()] == [
        ("pending", 0, "internal_error (HTTP 503)")
    ]

    journey.add("signed_up", minutes_ago(1), user="user-2").commit()
    alerts_runner.evaluate(post=True)  # Slack failed a moment ago: no new attempt here
    assert len(slack_stub.calls("chat.postMessage")) == 1

    alerts_runner.send()
    assert sorted(m["text"].split("`")[1] for m in slack_stub.messages()) == ["user-1", "user-2"]


def test_a_bad_token_does_not_fail_the_rules_run_but_the_send_job_says_what_to_fix(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    wrong = SlackResource(bot_token="xoxp-wrong-kind", api_url=slack_stub.api_url)

    assert alerts_runner.evaluate(post=True, slack=wrong).success
    assert [(a["status"], a["attempts"]) for a in journey.alerts()] == [("pending", 0)]
    result = alerts_runner.send(slack=wrong, raise_on_error=False)
    assert not result.success
