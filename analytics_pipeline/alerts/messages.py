"""The Slack message of an alert: a plain `text` fallback plus Block Kit blocks.

Every string that comes from users or events (user ids, deployment ids, error messages, paths)
is shown only inside a code span, built by `code`: Slack's own mrkdwn escaping of `&`, `<` and
`>` (so `<!channel>` or `<@U123>` is shown literally and can never ping anyone or forge a
link), a look-alike for the backtick (so the value can never close its code span) and line
breaks folded into spaces (a code span ends at a line break). Slack formats nothing inside a
code span, so `*`, `_` and `~` in a value stay plain characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from analytics_pipeline.alerts import rules

# Slack limits a section field's text to 2000 characters; a value, once escaped, is cut to
# this, so a value full of `<` (4 characters each once escaped) still fits.
MAX_FIELD_CHARS = 1500
# Shown instead of a backtick inside a code span: U+02CB MODIFIER LETTER GRAVE ACCENT.
BACKTICK_LOOKALIKE = "\u02cb"
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LINE_BREAKS = str.maketrans(dict.fromkeys("\r\n\t\v\f\x85\u2028\u2029", " "))


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


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict[str, Any]]


def escape(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """Escape a user-supplied value for Slack mrkdwn (`&`, `<`, `>` as entities), cut so the
    escaped text is at most `limit` characters and never ends inside an entity."""
    out: list[str] = []
    size = 0
    for char in str(value):
        piece = _ENTITIES.get(char, char)
        if size + len(piece) > limit - 1:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def code(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """A user-supplied value as an inline code span that nothing in it can close or format;
    `_unknown_` for a missing or empty value."""
    if value is None or value == "":
        return "_unknown_"
    text = str(value).translate(_LINE_BREAKS).replace("`", BACKTICK_LOOKALIKE)
    return f"`{escape(text, limit)}`"


def _code_list(values: list[Any], limit: int = MAX_FIELD_CHARS) -> str:
    """Values as code spans joined by commas, cut (at a whole value) to about `limit`."""
    shown: list[str] = []
    size = 0
    for value in values:
        piece = code(value, limit=200)
        if size + len(piece) + 2 > limit:
            shown.append("…")
            break
        shown.append(piece)
        size += len(piece) + 2
    return ", ".join(shown)


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
        requests = _code_list(d.get("requests") or []) or "_unknown_"
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
