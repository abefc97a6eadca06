"""What a failed Slack call means, the same for alerts and the report: retry later, fix the
setup (saying what, never the token), or Slack refused this one message."""

from __future__ import annotations

import http.client
from urllib.error import URLError

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from analytics_pipeline.slack import classify, configuration_fix
from analytics_pipeline.slack.errors import short_description

TOKEN = "xoxb-secret-token"


def slack_error(code: str, status: int = 200, **extra: object) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.example/api/chat.postMessage",
        req_args={"headers": {"Authorization": f"Bearer {TOKEN}"}},
        data={"ok": False, "error": code, **extra},
        headers={},
        status_code=status,
    )
    return SlackApiError(f"The request to the Slack API failed: {code}", response)


def test_rate_limits_server_errors_and_the_network_are_transient() -> None:
    for error in (
        slack_error("ratelimited", 429),
        slack_error("internal_error", 500),
        slack_error("service_unavailable", 200),
        URLError("connection refused"),
        TimeoutError("read timed out"),
        http.client.RemoteDisconnected("closed"),
    ):
        problem = classify(error)
        assert problem is not None and problem.transient, error
    lost = classify(TimeoutError("read timed out"))
    assert lost is not None and "history" in lost.description  # it may have been posted


def test_slack_refusing_one_message_is_not_transient() -> None:
    problem = classify(slack_error("invalid_blocks"))
    assert problem is not None and not problem.transient
    assert problem.code == "invalid_blocks" and problem.description == "invalid_blocks (HTTP 200)"
    assert configuration_fix("invalid_blocks", "#portal-alerts") is None


def test_setup_errors_say_what_to_fix_for_the_right_channel_setting() -> None:
    alerts = configuration_fix("channel_not_found", "#nope")
    reports = configuration_fix("not_in_channel", "#r", channel_setting="SLACK_REPORTS_CHANNEL")
    assert alerts is not None and "SLACK_ALERTS_CHANNEL" in alerts and "'#nope'" in alerts
    assert reports is not None and "SLACK_REPORTS_CHANNEL" in reports
    token = configuration_fix("invalid_auth", "#c")
    assert token is not None and "SLACK_BOT_TOKEN" in token
    scope = classify(slack_error("missing_scope", needed="channels:history"))
    assert scope is not None and scope.needed_scope == "channels:history"
    assert "channels:history" in (
        configuration_fix("missing_scope", "#c", "channels:history") or ""
    )


def test_other_errors_are_not_slack_failures_and_nothing_shows_the_token() -> None:
    assert classify(ValueError("a bug")) is None
    for error in (slack_error("invalid_auth"), slack_error("channel_not_found", 404)):
        problem = classify(error)
        assert problem is not None and TOKEN not in problem.description
        assert TOKEN not in short_description(error, "#r", "SLACK_REPORTS_CHANNEL")
    assert short_description(slack_error("invalid_auth"), "#r", "SLACK_REPORTS_CHANNEL") == (
        "Slack answered invalid_auth (HTTP 200). Check SLACK_BOT_TOKEN."
    )
    assert short_description(ValueError("x"), "#r", "SLACK_REPORTS_CHANNEL") == (
        "ValueError while talking to Slack: x"
    )
