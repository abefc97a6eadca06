"""What a failed Slack call means, for every caller (the alerts sender, the report delivery).

- transient (HTTP 429 beyond what slack_sdk waited out, 5xx, a Slack error code saying so,
  timeouts, the network): try again later; nothing is wrong with the message or the setup;
- the setup (bad token, unknown channel, missing scope): nothing can be sent until a person
  fixes it, and `configuration_fix` says what to change (never showing the token);
- otherwise Slack refused this one call (e.g. invalid_blocks, msg_too_long).
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.error import URLError

from slack_sdk.errors import SlackApiError

TRANSIENT = "transient"
REFUSED = "slack"  # Slack answered and refused this call

TRANSIENT_CODES = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
TOKEN_CODES = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
CHANNEL_CODES = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
# What a Slack call can raise: Slack's answer, or the network (URLError is an OSError).
SLACK_CALL_ERRORS = (SlackApiError, OSError, http.client.HTTPException)
ALERT_SCOPES = (
    "alerts need chat:write, channels:history and channels:read; groups:history and "
    "groups:read for a private channel"
)
_TOKEN_FIX = (
    "Set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) of a Slack app installed in "
    "your workspace"
)


@dataclass(frozen=True)
class SlackProblem:
    """One failed Slack call, described without secrets."""

    kind: str  # TRANSIENT or REFUSED
    description: str  # e.g. "invalid_auth (HTTP 200)", "network error: URLError: …"
    code: str | None = None  # Slack's error code, when Slack answered
    status: int | None = None  # the HTTP status, when Slack answered
    needed_scope: str | None = None  # what Slack says is missing for missing_scope

    @property
    def transient(self) -> bool:
        return self.kind == TRANSIENT


def classify(error: BaseException) -> SlackProblem | None:
    """What a failed Slack call means; None when `error` is not one (a bug, to be raised)."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = getattr(response, "status_code", None)
        data = response.data if isinstance(response.data, dict) else {}
        code = data.get("error")
        needed = data.get("needed")
        description = f"{code or 'error'} (HTTP {status})"
        transient = (
            status == 429 or (status is not None and status >= 500) or code in TRANSIENT_CODES
        )
        return SlackProblem(
            kind=TRANSIENT if transient else REFUSED,
            description=description,
            code=str(code) if code else None,
            status=status,
            needed_scope=str(needed) if needed else None,
        )
    if isinstance(error, URLError):  # raised while connecting or sending: nothing arrived
        return SlackProblem(TRANSIENT, f"network error: {type(error).__name__}: {error.reason}")
    if isinstance(error, OSError | http.client.HTTPException):
        # Timed out or dropped while waiting for the answer: Slack may have done it.
        return SlackProblem(
            TRANSIENT,
            f"no answer from Slack ({type(error).__name__}: {error}); it may have been posted, "
            "so the next try looks in the channel's history first",
        )
    return None


def configuration_fix(
    error: str,
    channel: str,
    needed_scope: str | None = None,
    *,
    channel_setting: str = "SLACK_ALERTS_CHANNEL",
    scopes: str = ALERT_SCOPES,
) -> str | None:
    """What a person must change for a Slack error code, or None if it is not a setup problem."""
    scope = needed_scope or "chat:write"
    fixes = {
        "invalid_auth": f"Slack rejected the bot token. {_TOKEN_FIX}.",
        "not_authed": f"Slack received no bot token. {_TOKEN_FIX}.",
        "token_revoked": f"The bot token was revoked. {_TOKEN_FIX}.",
        "token_expired": f"The bot token has expired. {_TOKEN_FIX}.",
        "account_inactive": f"The bot token belongs to a deactivated app or user. {_TOKEN_FIX}.",
        "channel_not_found": (
            f"Slack has no channel {channel!r} that the app can see. Set {channel_setting} "
            "to an existing channel and invite the app to it (/invite @your-app)."
        ),
        "not_in_channel": (
            f"The app is not a member of {channel!r}. Invite it (/invite @your-app) or set "
            f"{channel_setting} to a channel it is in."
        ),
        "is_archived": (
            f"Channel {channel!r} is archived. Unarchive it or set {channel_setting} to "
            "another channel."
        ),
        "missing_scope": (
            f"The Slack app lacks the {scope} scope: add it and reinstall the app ({scopes})."
        ),
    }
    return fixes.get(error)


def short_description(error: BaseException, channel: str, channel_setting: str) -> str:
    """A one-line, secret-free description of any error met while talking to Slack, with a
    hint when the token or the channel is the problem (the report's delivery ledger)."""
    problem = classify(error) if isinstance(error, SlackApiError) else None
    if problem is None:
        return f"{type(error).__name__} while talking to Slack: {str(error)[:300]}"
    hint = ""
    if problem.code in TOKEN_CODES:
        hint = " Check SLACK_BOT_TOKEN."
    elif problem.code in CHANNEL_CODES:
        hint = f" Check {channel_setting} ({channel!r}) and invite the app to it."
    status = "?" if problem.status is None else problem.status
    return f"Slack answered {problem.code or 'an error'} (HTTP {status}).{hint}"
