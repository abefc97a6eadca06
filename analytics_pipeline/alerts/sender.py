"""Posting pending alerts to Slack and recording each outcome in the outbox (SPEC §7).

Every alert is posted with chat.postMessage carrying message metadata (`analytics_alert`, its
alert key), and its row is claimed (marked "posting", only if no other poster holds it) before
and updated right after. An alert tried
before (any last_error, or a counted attempt) may be in the channel already: its answer may
have been lost (a timeout, a dropped connection, a crash between post and update). So before
posting such alerts, one pass looks them up in the channel's history by their metadata, and
records those it finds as sent with Slack's ts instead of posting them again.

Failures are sorted into three kinds:

- configuration (bad token, unknown channel, missing scope): nothing can be sent until a person
  fixes it; sending stops, the alerts stay pending with their attempts unchanged, and the run
  fails with a message naming what to fix (never the token itself);
- transient (HTTP 429 beyond what slack_sdk waited out, 5xx, timeouts, the network): the
  alert stays pending with last_error set and its attempts unchanged, however long Slack is
  down; sending stops, so an outage is not hammered, and a later run retries;
- the message itself (Slack refused this one message, e.g. invalid_blocks): the alert counts
  an attempt and the others go on. After MAX_SEND_ATTEMPTS such refusals it is `failed`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from analytics_pipeline.alerts import outbox
from analytics_pipeline.alerts.messages import render
from analytics_pipeline.alerts.model import OutboxAlert
from analytics_pipeline.alerts.thresholds import (
    MAX_SEND_ATTEMPTS,
    POSTING_LEASE_SECONDS,
    RETRY_DELAY_SECONDS,
    SEND_BATCH_LIMIT,
    SEND_BUDGET_SECONDS,
)
from analytics_pipeline.slack.errors import SLACK_CALL_ERRORS, classify, configuration_fix

ALERT_EVENT_TYPE = "analytics_alert"  # message metadata event_type of every alert post
POSTING = (
    "posting: no answer recorded yet (if this stays, the run stopped during the post; the next "
    "try looks for the alert in the channel's history first)"
)
# Events may be stamped up to 24 h in the future (SPEC §4), so an alert may have been posted
# up to that long before its event_ts: the history lookup starts that much earlier.
EVENT_TS_LEAD = timedelta(hours=24)
HISTORY_PAGE_SIZE = 200
MAX_HISTORY_PAGES = 25
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{8,}$")
_EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
_SCOPE_OF = {
    "chat.postMessage": "chat:write",
    "conversations.history": "channels:history",
    "users.conversations": "channels:read",
}
_channel_ids: dict[tuple[str, str], str] = {}  # (api url, channel name) -> id, per process


@dataclass
class SendReport:
    """What one send pass did; `retry_after_s` tells the sensor when another pass makes sense."""

    sent: int = 0
    found_in_history: int = 0  # tried before, already in the channel: recorded, not re-posted
    held_elsewhere: int = 0  # another poster had it (mid-post) or changed it: left to that one
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


class _NotAMember(Exception):
    """The configured channel name is not among the channels the app is a member of."""


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


def alert_metadata(alert_key: str) -> dict[str, Any]:
    """The message metadata that lets a later run find this alert's post in the channel."""
    return {"event_type": ALERT_EVENT_TYPE, "event_payload": {"alert_key": alert_key}}


def channel_id(client: WebClient, channel: str) -> str:
    """The id of `channel` (an id, or a name with or without '#'): conversations.history
    takes ids only. Looked up among the app's channels (users.conversations) once per
    process."""
    channel = channel.strip()
    if CHANNEL_ID.match(channel):
        return channel
    cache_key = (str(client.base_url), channel)
    if cache_key in _channel_ids:
        return _channel_ids[cache_key]
    name = channel.lstrip("#").lower()
    cursor: str | None = None
    for _ in range(MAX_HISTORY_PAGES):
        response = client.users_conversations(
            types="public_channel,private_channel", exclude_archived=True, limit=200, cursor=cursor
        )
        for found in response.get("channels") or []:
            if str(found.get("name", "")).lower() == name and found.get("id"):
                _channel_ids[cache_key] = str(found["id"])
                return _channel_ids[cache_key]
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    raise _NotAMember(channel)


def posted_earlier(
    client: WebClient, channel: str, alerts: Sequence[OutboxAlert]
) -> dict[str, str]:
    """{alert_key: Slack ts} of those alerts already in the channel, found by their message
    metadata in conversations.history (newest first, from the oldest alert's event_ts minus
    EVENT_TS_LEAD, at most MAX_HISTORY_PAGES pages)."""
    wanted = {alert.alert_key for alert in alerts}
    oldest = max(min(alert.event_ts for alert in alerts) - EVENT_TS_LEAD, _EARLIEST)
    found: dict[str, str] = {}
    cursor: str | None = None
    for _ in range(MAX_HISTORY_PAGES):
        response = client.conversations_history(
            channel=channel,
            oldest=f"{oldest.timestamp():.6f}",
            limit=HISTORY_PAGE_SIZE,
            include_all_metadata=True,
            cursor=cursor,
        )
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            key = payload.get("alert_key") if isinstance(payload, dict) else None
            if metadata.get("event_type") == ALERT_EVENT_TYPE and key in wanted:
                found[key] = str(message["ts"])  # newest first: the oldest post wins
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if len(found) == len(wanted) or not response.get("has_more") or not cursor:
            break
    return found


@dataclass
class _Pass:
    """One send pass's shared state, so each step can record a failure the same way."""

    conn: duckdb.DuckDBPyConnection
    channel: str
    max_attempts: int
    now: Callable[[], datetime]
    report: SendReport

    def failed(self, alert: OutboxAlert, error: Exception, *, counts: bool, doing: str) -> bool:
        """Record a failed Slack call on `alert`; True when the pass must stop. Raises
        SlackConfigurationError when a person must fix the setup."""
        problem = classify(error)
        if problem is None:
            raise error
        reason = problem.description
        description = reason if doing == "chat.postMessage" else f"{doing}: {reason}"
        self.report.last_error = description
        scope = problem.needed_scope or _SCOPE_OF.get(doing, "chat:write")
        fix = configuration_fix(problem.code, self.channel, scope) if problem.code else None
        if fix is not None:
            self.block(alert, description)
            self.report.stopped_by = "configuration"
            raise SlackConfigurationError(
                f"Slack refused {doing} with {reason}. {fix} "
                "Pending alerts stay pending and are sent once this is fixed.",
                self.report,
            ) from None
        if problem.transient or not counts:
            self.block(alert, description)
            self.report.stopped_by = "transient"
            self.report.retry_after_s = max(RETRY_DELAY_SECONDS, _retry_after(error))
            return True
        self.report.attempt_failures += 1
        status = outbox.record_attempt_failed(
            self.conn,
            alert.alert_key,
            error=description,
            max_attempts=self.max_attempts,
            now=self.now(),
        )
        if status == "failed":
            self.report.newly_failed.append(alert.alert_key)
        return False

    def block(self, alert: OutboxAlert, description: str) -> None:
        """last_error and updated_at set, attempts unchanged: visibly waiting, never failed."""
        outbox.record_blocked(self.conn, alert.alert_key, error=description, now=self.now())


def _settle_tried(
    run: _Pass, client: WebClient, alerts: list[OutboxAlert], limit: int
) -> list[OutboxAlert] | None:
    """The alerts still to post, once those tried before that are in the channel already are
    recorded as sent; None when the lookup failed (the pass stops)."""
    fresh = {a.alert_key for a in outbox.pending_alerts(run.conn, limit, fresh_only=True)}
    tried = [alert for alert in alerts if alert.alert_key not in fresh]
    if not tried:
        return alerts
    doing = "users.conversations"
    try:
        channel = channel_id(client, run.channel)
        doing = "conversations.history"
        found = posted_earlier(client, channel, tried)
    except _NotAMember:
        run.block(tried[0], f"the app is not a member of {run.channel!r}")
        run.report.stopped_by = "configuration"
        raise SlackConfigurationError(
            f"The Slack app is not a member of a channel named {run.channel!r}, so it cannot "
            "check whether an alert whose answer was lost is already there. Invite it "
            "(/invite @your-app) or set SLACK_ALERTS_CHANNEL to the channel's id (C…). Pending "
            "alerts stay pending and are sent once this is fixed.",
            run.report,
        ) from None
    except SLACK_CALL_ERRORS as error:
        run.failed(tried[0], error, counts=False, doing=doing)
        return None
    for key, ts in found.items():
        outbox.record_sent(run.conn, key, slack_ts=ts, channel=channel, now=run.now())
        run.report.found_in_history += 1
    return [alert for alert in alerts if alert.alert_key not in found]


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

    `fresh_only` posts only alerts never attempted (the quick post right after the rules), so
    it never needs the history lookup. Raises SlackConfigurationError (after recording it on
    the alert) when Slack's setup is wrong; the alerts stay pending.
    """
    run = _Pass(conn=conn, channel=channel, max_attempts=max_attempts, now=now, report=SendReport())
    started = clock()
    alerts: list[OutboxAlert] | None = outbox.pending_alerts(conn, limit, fresh_only=fresh_only)
    if alerts and not fresh_only:
        alerts = _settle_tried(run, client, alerts, limit)
    for alert in alerts or []:
        if clock() - started > budget_s:
            run.report.stopped_by = "budget"
            break
        message = render(alert)
        # From here on a crash leaves the alert marked as tried (the next try looks it up).
        if not outbox.claim(
            conn, alert, posting=POSTING, now=now(), lease=timedelta(seconds=POSTING_LEASE_SECONDS)
        ):
            run.report.held_elsewhere += 1
            continue
        try:
            response = client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                metadata=alert_metadata(alert.alert_key),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SLACK_CALL_ERRORS as error:
            if run.failed(alert, error, counts=True, doing="chat.postMessage"):
                break
            continue
        outbox.record_sent(
            conn,
            alert.alert_key,
            slack_ts=str(response["ts"]),
            channel=str(response.get("channel") or channel),
            now=now(),
        )
        run.report.sent += 1
    return run.report
