"""Posting pending alerts to Slack and recording each outcome in the outbox.

Each alert is posted with chat.postMessage and its row updated right after, so a crash can at
worst resend the one alert in flight. Failures are sorted into three kinds:

- configuration (bad token, unknown channel, missing scope): nothing can be sent until a person
  fixes it; sending stops, the alerts stay pending with their attempts unchanged, and the run
  fails with a message naming the variable to fix (never the token itself);
- transient (HTTP 429 beyond what slack_sdk waited out, 5xx, network): the alert counts an
  attempt and stays pending; sending stops, so a Slack outage is not hammered;
- the message itself (Slack refused this one message): the alert counts an attempt and the
  others go on.

After MAX_SEND_ATTEMPTS counted attempts an alert is `failed`.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from analytics_pipeline.alerts import outbox
from analytics_pipeline.alerts.messages import render
from analytics_pipeline.alerts.thresholds import (
    MAX_SEND_ATTEMPTS,
    RETRY_DELAY_SECONDS,
    SEND_BATCH_LIMIT,
    SEND_BUDGET_SECONDS,
)

TRANSIENT_SLACK_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_TOKEN_FIX = (
    "Set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) of a Slack app installed in "
    "your workspace"
)


def configuration_fix(error: str, channel: str) -> str | None:
    """What a person must change for a Slack error code, or None if it is not a setup problem."""
    fixes = {
        "invalid_auth": f"Slack rejected the bot token. {_TOKEN_FIX}.",
        "not_authed": f"Slack received no bot token. {_TOKEN_FIX}.",
        "token_revoked": f"The bot token was revoked. {_TOKEN_FIX}.",
        "token_expired": f"The bot token has expired. {_TOKEN_FIX}.",
        "account_inactive": f"The bot token belongs to a deactivated app or user. {_TOKEN_FIX}.",
        "channel_not_found": (
            f"Slack has no channel {channel!r} that the app can see. Set SLACK_ALERTS_CHANNEL "
            "to an existing channel and invite the app to it (/invite @your-app)."
        ),
        "not_in_channel": (
            f"The app is not a member of {channel!r}. Invite it (/invite @your-app) or set "
            "SLACK_ALERTS_CHANNEL to a channel it is in."
        ),
        "is_archived": (
            f"Channel {channel!r} is archived. Unarchive it or set SLACK_ALERTS_CHANNEL to "
            "another channel."
        ),
        "missing_scope": "The Slack app lacks the chat:write scope: add it and reinstall the app.",
    }
    return fixes.get(error)


@dataclass
class SendReport:
    """What one send pass did; `retry_after_s` tells the sensor when another pass makes sense."""

    sent: int = 0
    attempt_failures: int = 0
    newly_failed: list[str] = field(default_factory=list)
    stopped_by: str | None = None  # "transient", "configuration", "budget", or None
    last_error: str | None = None
    retry_after_s: float = 0.0


class SlackConfigurationError(RuntimeError):
    """Slack refuses every message until a person fixes the configuration; says what to fix."""

    def __init__(self, message: str, report: SendReport) -> None:
        super().__init__(message)
        self.report = report


def _describe(error: Exception) -> tuple[str, str]:
    """(kind, short description) of a failed chat.postMessage; never includes the token."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = getattr(response, "status_code", None)
        code = response.get("error") if isinstance(response.data, dict) else None
        description = f"{code or 'error'} (HTTP {status})"
        if status == 429 or (status is not None and status >= 500):
            return "transient", description
        if code in TRANSIENT_SLACK_ERRORS:
            return "transient", description
        return "slack", description
    if isinstance(error, OSError | http.client.HTTPException):
        reason = getattr(error, "reason", None) or error
        return "transient", f"network error: {type(error).__name__}: {reason}"
    raise error


def _retry_after(error: Exception) -> float:
    if isinstance(error, SlackApiError) and error.response.status_code == 429:
        headers = error.response.headers or {}
        for name, value in headers.items():
            if name.lower() == "retry-after":
                try:
                    return float(value[0] if isinstance(value, list) else value)
                except (TypeError, ValueError):
                    return RETRY_DELAY_SECONDS
    return 0.0


def send_pending(
    conn: duckdb.DuckDBPyConnection,
    client: WebClient,
    channel: str,
    *,
    max_attempts: int = MAX_SEND_ATTEMPTS,
    budget_s: float = SEND_BUDGET_SECONDS,
    limit: int = SEND_BATCH_LIMIT,
    fresh_only: bool = False,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SendReport:
    """Post pending alerts, oldest first, until done, out of budget, or Slack fails.

    `fresh_only` posts only alerts never attempted (the quick post right after the rules).
    Raises SlackConfigurationError (after recording it on the alert) when Slack's setup is
    wrong; the alerts stay pending.
    """
    report = SendReport()
    started = clock()
    for alert in outbox.pending_alerts(conn, limit, fresh_only=fresh_only):
        if clock() - started > budget_s:
            report.stopped_by = "budget"
            break
        message = render(alert)
        try:
            response = client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackApiError, OSError, http.client.HTTPException) as error:
            kind, description = _describe(error)
            report.last_error = description
            code = error.response.get("error") if isinstance(error, SlackApiError) else None
            fix = configuration_fix(str(code), channel) if code else None
            if fix is not None:
                outbox.record_blocked(conn, alert.alert_key, error=description, now=now())
                report.stopped_by = "configuration"
                raise SlackConfigurationError(
                    f"Slack refused chat.postMessage with {description}. {fix} "
                    "Pending alerts stay pending and are sent once this is fixed.",
                    report,
                ) from None
            report.attempt_failures += 1
            status = outbox.record_attempt_failed(
                conn, alert.alert_key, error=description, max_attempts=max_attempts, now=now()
            )
            if status == "failed":
                report.newly_failed.append(alert.alert_key)
            if kind == "transient":
                report.stopped_by = "transient"
                report.retry_after_s = max(RETRY_DELAY_SECONDS, _retry_after(error))
                break
            continue
        outbox.record_sent(
            conn,
            alert.alert_key,
            slack_ts=str(response["ts"]),
            channel=str(response.get("channel") or channel),
            now=now(),
        )
        report.sent += 1
    return report
