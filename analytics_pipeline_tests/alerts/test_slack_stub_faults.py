"""The stub plays the faults the fault suite needs, through real slack_sdk: 5xx, 429 with
Retry-After, no answer at all (held or dropped), and a slow answer after the message is stored."""

from __future__ import annotations

import http.client
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.fixtures.slack import SlackStub


def quick_client(slack_stub: SlackStub, timeout_s: int = 1) -> WebClient:
    """The product's client (its retry policy), with a short timeout and no 429 waiting."""
    resource = SlackResource(bot_token=slack_stub.token, api_url=slack_stub.api_url)
    return resource.client(timeout_s=timeout_s, max_rate_limit_wait_s=0)


def post(client: WebClient, text: str = "hello") -> str:
    return str(client.chat_postMessage(channel="#portal-alerts", text=text)["ts"])


def test_a_hang_holds_the_call_without_an_answer_and_stores_nothing(
    slack_stub: SlackStub,
) -> None:
    slack_stub.fail("chat.postMessage", [{"hang": 30}])
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        post(quick_client(slack_stub))
    assert time.monotonic() - started < 10
    assert slack_stub.messages() == []
    (call,) = slack_stub.calls("chat.postMessage")
    assert call["status"] == 0 and call["note"] == "no answer (hang)"
    post(quick_client(slack_stub))  # the next call is served as usual
    assert len(slack_stub.messages()) == 1


def test_a_drop_closes_the_connection_unanswered_and_the_client_does_not_resend(
    slack_stub: SlackStub,
) -> None:
    slack_stub.fail("chat.postMessage", [{"drop": True}])
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        post(quick_client(slack_stub))
    assert slack_stub.messages() == []
    assert [c["status"] for c in slack_stub.calls("chat.postMessage")] == [0]


def test_a_slow_answer_comes_after_the_message_is_stored(slack_stub: SlackStub) -> None:
    slack_stub.fail("chat.postMessage", [{"answer_after": 3}])
    with pytest.raises(TimeoutError):
        post(quick_client(slack_stub), "slow")
    # The client gave up, yet Slack has the message: its answer was lost.
    assert [m["text"] for m in slack_stub.messages()] == ["slow"]

    slack_stub.fail("chat.postMessage", [{"answer_after": 1}])
    started = time.monotonic()
    ts = post(quick_client(slack_stub, timeout_s=5), "slow but in time")
    assert time.monotonic() - started >= 1.0
    assert slack_stub.messages()[-1]["ts"] == ts


def test_a_stored_message_whose_answer_is_dropped_is_not_resent_by_the_client(
    slack_stub: SlackStub,
) -> None:
    slack_stub.fail("chat.postMessage", [{"answer_after": 0, "drop": True}])
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        post(quick_client(slack_stub), "taken")
    # slack_sdk's default handler would retry this dropped connection and post twice.
    assert [m["text"] for m in slack_stub.messages()] == ["taken"]
    assert len(slack_stub.calls("chat.postMessage")) == 1


def test_an_outage_answers_every_call_until_it_ends(slack_stub: SlackStub) -> None:
    slack_stub.outage({"status": 503})
    client = quick_client(slack_stub)
    for _ in range(3):
        with pytest.raises(SlackApiError) as raised:
            post(client)
        assert raised.value.response.status_code == 503
    with pytest.raises(SlackApiError):
        client.auth_test()  # "*": every method
    slack_stub.outage({"status": 429, "retry_after": 120}, method="chat.postMessage")
    with pytest.raises(SlackApiError) as limited:
        post(client)  # the method's own outage is played before the "*" one
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] in ("120", ["120"])

    slack_stub.outage(None, method="chat.postMessage")
    slack_stub.outage(None)
    post(client)
    assert len(slack_stub.messages()) == 1


def test_ending_an_outage_lets_go_of_the_calls_it_holds(slack_stub: SlackStub) -> None:
    slack_stub.outage({"hang": 300})
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        post(quick_client(slack_stub))
    slack_stub.outage(None)
    post(quick_client(slack_stub))
    assert time.monotonic() - started < 10


def test_times_repeats_a_queued_fault(slack_stub: SlackStub) -> None:
    slack_stub.fail("chat.postMessage", [{"error": "invalid_blocks", "times": 2}])
    client = quick_client(slack_stub)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            post(client)
        assert raised.value.response["error"] == "invalid_blocks"
    post(client)
    assert [c["error"] for c in slack_stub.calls("chat.postMessage")] == [
        "invalid_blocks",
        "invalid_blocks",
        None,
    ]


def test_a_slack_error_can_carry_extra_fields(slack_stub: SlackStub) -> None:
    slack_stub.fail(
        "conversations.history",
        [{"error": "missing_scope", "extra": {"needed": "channels:history"}}],
    )
    channel = quick_client(slack_stub).chat_postMessage(channel="#portal-alerts", text="x")
    with pytest.raises(SlackApiError) as raised:
        quick_client(slack_stub).conversations_history(channel=channel["channel"])
    assert raised.value.response["error"] == "missing_scope"
    assert raised.value.response["needed"] == "channels:history"
