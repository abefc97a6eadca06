"""The report's Slack messages: one header per stage, one journey reply per listed user.

Composition only (no I/O). User-supplied strings go through the shared Slack `escape` (`&`, `<`,
`>` for mrkdwn), so a user id like `<!channel>` is shown, never acted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from analytics_pipeline.report.model import StageSummary, StageUser
from analytics_pipeline.report.timeline import timeline_excerpt
from analytics_pipeline.slack import SlackMessage, escape

MAX_REPLIES = 20
REPLY_TIMELINE_ENTRIES = 15


def _count(value: int) -> str:
    return f"{value:,}"


def _when(ts: datetime | None) -> str:
    if ts is None:
        return "never"
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def reply_users(users: Sequence[StageUser], limit: int = MAX_REPLIES) -> list[StageUser]:
    """The users who get a thread reply: those who entered the stage first, then the most
    recently active (the order the report's queries list them in)."""
    return list(users[:limit])


def stage_header(
    summary: StageSummary, day: date, rule: str, replies: int, pdf_name: str
) -> SlackMessage:
    """The stage's top-level message: its count and change; the thread holds PDF and users."""
    users = "user" if summary.count == 1 else "users"
    headline = f"{summary.title}: {_count(summary.count)} {users}"
    text = f"Funnel report {day.isoformat()} · {headline} ({summary.change_text()})"
    change = summary.change_text()
    if summary.previous is not None:
        change += f" (was {_count(summary.previous)})"
    entered = f"*{_count(summary.entered_today)}* entered this stage on {day.isoformat()}"
    thread = f"In the thread: `{escape(pdf_name)}`"
    if replies:
        thread += f" and the journeys of {replies} of them (new in the stage first)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{change} · {entered}\n_{rule}_"},
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"Funnel report for {day.isoformat()} (UTC) · {thread}"}
            ],
        },
    ]
    return SlackMessage(text=text, blocks=blocks)


def pdf_comment(summary: StageSummary, day: date) -> str:
    return f"{summary.title} users on {day.isoformat()}: the full list with each user's journey."


def user_reply(user: StageUser, day: date) -> SlackMessage:
    """One user's journey as a thread reply."""
    user_id = escape(user.user_id)
    signup = _when(user.signed_up_at)
    if user.signup_inferred and user.signed_up_at is not None:
        signup += " (inferred from the first action)"
    status = f"new in this stage on {day.isoformat()}" if user.entered_today else "in this stage"
    facts = (
        f"Signed up {signup} · last meaningful action {_when(user.last_meaningful_at)} · "
        f"{user.meaningful_days} meaningful day{'s' if user.meaningful_days != 1 else ''} · "
        f"last seen {_when(user.last_seen_at)}"
    )
    entries = timeline_excerpt(user.timeline, REPLY_TIMELINE_ENTRIES)
    journey = "\n".join(escape(entry) for entry in entries) or "no product actions yet"
    text = f"{user_id} ({status}): {facts}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"`{user_id}` · _{status}_"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": facts}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{journey}```"}},
    ]
    return SlackMessage(text=text, blocks=blocks)
