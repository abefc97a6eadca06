"""Alert messages: readable text and blocks, and user strings that can never ping anyone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from analytics_pipeline.alerts.messages import OutboxAlert, escape, render

T0 = datetime(2026, 11, 26, 10, 4, 5, tzinfo=UTC)


def test_escape_turns_slack_control_characters_into_entities() -> None:
    assert escape("<!channel>") == "&lt;!channel&gt;"
    assert escape("<@U123>") == "&lt;@U123&gt;"
    assert escape("a & b") == "a &amp; b"
    assert escape("&lt;") == "&amp;lt;"  # already-escaped text is shown literally too


def test_escape_cuts_very_long_values() -> None:
    assert len(escape("x" * 10_000)) <= 1500


def test_no_user_supplied_string_reaches_slack_unescaped() -> None:
    alert = OutboxAlert(
        alert_key="deployment_failed:<!here>",
        rule="deployment_failed",
        user_id="<!channel>",
        event_ts=T0,
        details={"deployment_id": "<@U123>", "error_message": "a & b <https://evil|click>"},
    )
    message = render(alert)
    everything = message.text + json.dumps(message.blocks)
    for raw in ("<!channel>", "<@U123>", "<!here>", "<https://evil|click>"):
        assert raw not in everything
    assert "&lt;!channel&gt;" in message.text
    assert "a &amp; b &lt;https://evil|click&gt;" in message.text


def test_each_rule_has_a_clear_text_and_blocks() -> None:
    cases = {
        "new_signup": ({}, "New sign-up"),
        "deployment_failed": (
            {"deployment_id": "d-1", "error_message": "OOMKilled"},
            "Deployment failed",
        ),
        "deployment_slow": (
            {"deployment_id": "d-1", "threshold_minutes": 10.0, "started_at": T0.isoformat()},
            "still running after 10 minutes",
        ),
        "api_errors": (
            {"count": 3, "window_minutes": 5.0, "requests": ["POST /projects -> 503"]},
            "3 within 5 minutes",
        ),
        "login_trouble": ({"count": 4, "window_minutes": 10.0}, "4 within 10 minutes"),
    }
    for rule, (details, expected) in cases.items():
        message = render(
            OutboxAlert(
                alert_key=f"{rule}:user-7",
                rule=rule,
                user_id="user-7",
                event_ts=T0,
                details=details,
            )
        )
        assert expected in message.text, rule
        assert "`user-7`" in message.text, rule
        assert message.blocks[0]["type"] == "section", rule
        assert any(b["type"] == "context" for b in message.blocks), rule
    failed = render(OutboxAlert("k", "deployment_failed", "u", T0, {"error_message": "OOMKilled"}))
    assert "OOMKilled" in failed.text
    assert "2026-11-26 10:04:05 UTC" in render(OutboxAlert("k", "new_signup", "u", T0, {})).text
