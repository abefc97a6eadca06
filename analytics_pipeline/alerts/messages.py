"""The Slack message of an alert: a plain `text` fallback plus Block Kit blocks.

Every string that comes from users or events (user ids, deployment ids, error messages, paths)
is shown only inside a code span, built by `analytics_pipeline.slack.code`, so it can never
ping anyone, forge a link, close its span or add formatting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from analytics_pipeline.alerts import rules
from analytics_pipeline.slack import SlackMessage, code, code_list


@dataclass(frozen=True)
class OutboxAlert:
    """A row of the `alerts` outbox, as the sender needs it."""

    alert_key: str
    rule: str
    user_id: str | None
    event_ts: datetime
    details: dict[str, Any]
    attempts: int = 0
    # updated_at in microseconds when read: a poster claims the alert only if it is unchanged.
    version: int = 0


def _when(value: Any) -> str:
    """A timestamp (datetime or ISO text) as Slack shows it: `2026-11-26 10:04:05 UTC`."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return code(value)
    if not isinstance(value, datetime):
        return "?"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _headline(alert: OutboxAlert) -> tuple[str, str, list[tuple[str, str]]]:
    """(emoji, title, [(label, mrkdwn value)]) of one alert; values are already escaped."""
    d = alert.details
    user = code(alert.user_id)
    if alert.rule == rules.NEW_SIGNUP:
        return ":tada:", "New sign-up", [("User", user), ("Signed up", _when(alert.event_ts))]
    if alert.rule == rules.DEPLOYMENT_FAILED:
        return (
            ":x:",
            "Deployment failed",
            [
                ("Deployment", code(d.get("deployment_id"))),
                ("User", user),
                ("Failed at", _when(d.get("failed_at") or alert.event_ts)),
                ("Error", code(d.get("error_message") or "no error message")),
            ],
        )
    if alert.rule == rules.DEPLOYMENT_SLOW:
        minutes = _minutes(d.get("threshold_minutes"))
        if d.get("finished_as"):
            status = f"finished ({code(d['finished_as'])}) at {_when(d.get('finished_at'))}"
        else:
            status = f"still running after {minutes} minutes"
        return (
            ":turtle:",
            "Deployment is slow",
            [
                ("Deployment", code(d.get("deployment_id"))),
                ("User", user),
                ("Started", _when(d.get("started_at") or alert.event_ts)),
                ("Status", status),
            ],
        )
    if alert.rule == rules.API_ERRORS:
        requests = code_list(d.get("requests") or []) or "_unknown_"
        return (
            ":warning:",
            "Repeated API errors",
            [
                ("User", user),
                (
                    "Errors",
                    f"{int(d.get('count', 0))} within {_minutes(d.get('window_minutes'))} minutes",
                ),
                ("Between", f"{_when(d.get('first_at'))} and {_when(d.get('last_at'))}"),
                ("Requests", requests),
            ],
        )
    if alert.rule == rules.LOGIN_TROUBLE:
        return (
            ":lock:",
            "Login trouble",
            [
                ("User", user),
                (
                    "Failed logins",
                    f"{int(d.get('count', 0))} within {_minutes(d.get('window_minutes'))} "
                    "minutes, no successful login since",
                ),
                ("Between", f"{_when(d.get('first_at'))} and {_when(d.get('last_at'))}"),
            ],
        )
    return ":bell:", "Alert", [("Rule", code(alert.rule)), ("User", user)]


def _minutes(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "?"
    return str(int(number)) if number.is_integer() else f"{number:g}"


def render(alert: OutboxAlert) -> SlackMessage:
    """The message for one alert: `text` for notifications and old clients, blocks for the UI."""
    emoji, title, fields = _headline(alert)
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
