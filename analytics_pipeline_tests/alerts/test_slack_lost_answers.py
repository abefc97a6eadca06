"""A post whose answer is lost is not posted again (SPEC §7): a slow Slack that stores the
message after the client timed out, or drops the connection after taking it. The next run
finds the post in the channel's history by its message metadata and records it as sent."""

from __future__ import annotations

import dagster as dg

from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.alerts.conftest import AlertsRunner, Journey, minutes_ago
from analytics_pipeline_tests.fixtures.slack import SlackStub


def impatient(slack_stub: SlackStub, **overrides: object) -> SlackResource:
    return SlackResource(
        bot_token=slack_stub.token, api_url=slack_stub.api_url, timeout_s=1, **overrides
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    failure = result.failure_data_for_node("send_pending_alerts")
    return failure.error.message if failure and failure.error else ""


def test_every_post_carries_its_alert_key_as_message_metadata(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    alerts_runner.send()

    (message,) = slack_stub.messages()
    (alert,) = journey.alerts()
    assert message["metadata"] == {
        "event_type": "analytics_alert",
        "event_payload": {"alert_key": alert["alert_key"]},
    }


def test_a_slow_slack_that_posted_after_the_timeout_is_not_posted_again(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(2), user="user-1")
    journey.add("signed_up", minutes_ago(1), user="user-2")
    journey.commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"answer_after": 4}])

    alerts_runner.send(slack=impatient(slack_stub))

    (posted,) = slack_stub.messages()  # Slack has it, the sender could not know
    first, second = journey.alerts()
    assert (first["status"], first["attempts"]) == ("pending", 0)
    assert "no answer from Slack (TimeoutError" in first["last_error"]
    assert (second["status"], second["last_error"]) == ("pending", None)

    alerts_runner.send(slack=impatient(slack_stub))

    messages = slack_stub.messages()
    assert [m["text"].split("`")[1] for m in messages] == ["user-1", "user-2"]
    assert len(slack_stub.calls("chat.postMessage")) == 2  # user-1 was never posted again
    first, second = journey.alerts()
    assert (first["status"], first["slack_ts"]) == ("sent", posted["ts"])
    assert (second["status"], second["slack_ts"]) == ("sent", messages[1]["ts"])
    assert len(slack_stub.calls("conversations.history")) == 1


def test_the_quick_post_timing_out_on_a_slow_slack_does_not_post_twice(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    slack_stub.fail("chat.postMessage", [{"answer_after": 8}])  # the quick post waits 5 s

    assert alerts_runner.evaluate(post=True).success

    (alert,) = journey.alerts()  # the rules' run gave up at its 5 s timeout
    assert alert["status"] == "pending" and "TimeoutError" in alert["last_error"]
    alerts_runner.send()
    (message,) = slack_stub.messages()
    assert journey.alerts()[0]["status"] == "sent"
    assert journey.alerts()[0]["slack_ts"] == message["ts"]
    assert len(slack_stub.calls("chat.postMessage")) == 1


def test_a_connection_dropped_after_slack_took_the_post_is_not_posted_again(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"answer_after": 0, "drop": True}])

    alerts_runner.send()
    assert len(slack_stub.messages()) == 1
    assert len(slack_stub.calls("chat.postMessage")) == 1  # no retry inside the client
    assert "RemoteDisconnected" in journey.alerts()[0]["last_error"]

    alerts_runner.send()
    assert len(slack_stub.messages()) == 1
    assert journey.alerts()[0]["status"] == "sent"


def test_a_post_slack_never_received_is_posted_once_after_the_lookup(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"hang": 10}])
    alerts_runner.send(slack=impatient(slack_stub))
    assert slack_stub.messages() == []

    alerts_runner.send()

    assert len(slack_stub.messages()) == 1
    assert [c["method"] for c in slack_stub.calls()][-2:] == [
        "conversations.history",
        "chat.postMessage",
    ]


def test_a_channel_given_by_id_needs_no_channel_lookup(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub, slack_resource
) -> None:
    channel = slack_resource.client().users_conversations()["channels"][0]
    slack_stub.reset()
    by_id = impatient(slack_stub, alerts_channel=channel["id"])
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"answer_after": 3}])
    alerts_runner.send(slack=by_id)

    alerts_runner.send(slack=by_id)

    assert len(slack_stub.messages(channel["id"])) == 1
    assert journey.alerts()[0]["status"] == "sent"
    assert slack_stub.calls("users.conversations") == []


def test_history_without_its_scope_fails_the_run_naming_the_scope_and_posts_nothing(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    slack_stub.fail("chat.postMessage", [{"status": 500}])
    alerts_runner.send()
    missing = {"error": "missing_scope", "extra": {"needed": "channels:history"}}
    slack_stub.fail("conversations.history", [missing])

    result = alerts_runner.send(raise_on_error=False)

    assert not result.success
    message = failure_message(result)
    assert "missing_scope" in message and "channels:history" in message
    assert [(a["status"], a["attempts"]) for a in journey.alerts()] == [("pending", 0)]
    assert slack_stub.messages() == []
    alerts_runner.send()  # the scope is added
    assert len(slack_stub.messages()) == 1


def test_a_channel_the_app_is_not_in_fails_the_run_saying_what_to_do(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    elsewhere = impatient(slack_stub, alerts_channel="#never-invited")
    slack_stub.fail("chat.postMessage", [{"status": 500}])
    alerts_runner.send(slack=elsewhere)

    result = alerts_runner.send(slack=elsewhere, raise_on_error=False)

    assert not result.success
    message = failure_message(result)
    assert "not a member" in message and "SLACK_ALERTS_CHANNEL" in message
    assert journey.alerts()[0]["status"] == "pending"
    assert slack_stub.messages() == []
