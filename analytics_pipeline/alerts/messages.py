"""The Slack message of an alert: a plain `text` fallback plus Block Kit blocks.

The visible part (emoji, title, fields) is the rule's own `headline` (alerts/rules/); this
module lays it out the same way for every rule. Every string that comes from users or events
(user ids, deployment ids, error messages, paths) is shown only inside a code span, built by
`analytics_pipeline.slack.code`, so it can never ping anyone, forge a link, close its span or
add formatting.
"""

from __future__ import annotations

from typing import Any

from analytics_pipeline.alerts.model import Headline, OutboxAlert
from analytics_pipeline.alerts.rules import rule_named
from analytics_pipeline.slack import SlackMessage, code


def _headline(alert: OutboxAlert) -> Headline:
    rule = rule_named(alert.rule)
    if rule is not None:
        return rule.headline(alert)
    # A rule this release does not know (a row written by a newer one): still readable.
    return Headline(":bell:", "Alert", [("Rule", code(alert.rule)), ("User", code(alert.user_id))])


def render(alert: OutboxAlert) -> SlackMessage:
    """The message for one alert: `text` for notifications and old clients, blocks for the UI."""
    headline = _headline(alert)
    emoji, title, fields = headline.emoji, headline.title, headline.fields
    text = f"{emoji} {title}: " + "; ".join(f"{label}: {value}" for label, value in fields)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} *{title}*"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in fields[:10]
            ],
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"alert {code(alert.alert_key)}"}],
        },
    ]
    return SlackMessage(text=text, blocks=blocks)
