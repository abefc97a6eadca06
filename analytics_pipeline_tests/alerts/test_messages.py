"""Alert messages: readable text and blocks, and user strings that can never ping anyone,
close a code span or add formatting."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from analytics_pipeline.alerts.messages import render
from analytics_pipeline.alerts.model import OutboxAlert
from analytics_pipeline.slack import code, escape

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


HOSTILE = [
    "a`*bold*`b",
    "```block```",
    "_italic_ ~strike~ *bold*",
    "line one\n*bold on line two*",
    "`",
    "x\r\n`y`\u2028_z_",
]


def _fields(alert: OutboxAlert) -> dict[str, str]:
    """{label: mrkdwn value} of the message's fields section."""
    (section,) = [b for b in render(alert).blocks if b.get("fields")]
    return dict(f["text"].split("\n", 1) for f in section["fields"])


def test_a_user_string_stays_inside_one_code_span_whatever_it_holds() -> None:
    for hostile in HOSTILE:
        alert = OutboxAlert(
            alert_key=f"deployment_failed:{hostile}",
            rule="deployment_failed",
            user_id=hostile,
            event_ts=T0,
            details={"deployment_id": hostile, "error_message": hostile},
        )
        fields = _fields(alert)
        for label in ("*User*", "*Deployment*", "*Error*"):
            value = fields[label]
            # One span from the first character to the last: nothing in it can close it, and
            # Slack formats nothing inside a code span.
            assert value.startswith("`") and value.endswith("`"), (hostile, value)
            assert value.count("`") == 2 and "\n" not in value, (hostile, value)
        context = render(alert).blocks[-1]["elements"][0]["text"]
        assert context.count("`") == 2 and "\n" not in context


def test_backticks_show_as_a_look_alike_and_the_text_is_otherwise_unchanged() -> None:
    assert code("a`*b*`c") == "`a\u02cb*b*\u02cbc`"
    assert code("two\nlines") == "`two lines`"
    assert code("") == "_unknown_" and code(None) == "_unknown_"


def test_every_user_string_of_every_rule_is_in_a_code_span() -> None:
    marker = "*_~`"
    details = {
        "deployment_id": marker,
        "error_message": marker,
        "finished_as": marker,
        "finished_at": marker,
        "started_at": marker,
        "requests": [marker, marker],
        "first_at": marker,
        "last_at": marker,
        "count": 3,
        "window_minutes": 5,
        "threshold_minutes": 10,
    }
    for rule in ("new_signup", "deployment_failed", "deployment_slow", "api_errors", "x"):
        message = render(OutboxAlert(f"{rule}:k", rule, marker, T0, details))
        for text in [message.text] + [
            item["text"]
            for block in message.blocks
            for item in [
                block.get("text") or {},
                *block.get("fields", []),
                *block.get("elements", []),
            ]
            if item
        ]:
            outside = re.sub(r"`[^`\n]*`", "", text)
            assert "\u02cb" not in outside, (rule, text)  # every look-alike is inside a span
            assert "*_~" not in outside, (rule, text)


def test_a_long_value_full_of_escaped_characters_still_fits_slack_limits() -> None:
    alert = OutboxAlert("k", "deployment_failed", "<" * 200, T0, {"error_message": "<&>" * 5000})
    for label, value in _fields(alert).items():
        assert len(f"{label}\n{value}") <= 2000, label
    error = _fields(alert)["*Error*"]
    assert error.endswith("…`") and error.count("`") == 2
    assert re.fullmatch(r"`(?:&lt;|&amp;|&gt;)+…`", error)  # never cut inside an entity
    assert len(escape("<" * 10_000)) <= 1500
