"""`api_errors`, key api_errors:<user>:<YYYY-MM-DDTHH>: >= 3 `api_error` within 5 minutes.

Only the error that makes three must lie within the lookback (24 h); the hour of the alert is
the UTC hour of that error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from analytics_pipeline.alerts.format import iso, minutes, when
from analytics_pipeline.alerts.model import ActionEvent, Alert, Headline, OutboxAlert
from analytics_pipeline.alerts.rule_record import (
    EventRule,
    alert_key,
    by_user,
    hour_of,
    recent,
    unique,
    windows,
)
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.slack import code, code_list

NAME = "api_errors"
COUNT = 3
WINDOW = timedelta(minutes=5)
# Most example requests carried into one alert's details.
MAX_EXAMPLES = 5


def repeated_api_errors(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    alerts = []
    for user_id, errors in by_user(events, {"api_error"}).items():
        for first, last in windows(errors, COUNT, WINDOW):
            trigger = errors[last]
            if not recent(trigger.ts, now, thresholds):
                continue
            run = errors[first : last + 1]
            period = hour_of(trigger.ts)
            alerts.append(
                Alert(
                    key=alert_key(NAME, user_id, period),
                    rule=NAME,
                    user_id=user_id,
                    entity=user_id,
                    period=period,
                    event_ts=trigger.ts,
                    details={
                        "count": len(run),
                        "window_minutes": WINDOW.total_seconds() / 60,
                        "first_at": iso(run[0].ts),
                        "last_at": iso(trigger.ts),
                        "requests": _examples(run),
                    },
                )
            )
    return unique(alerts)


def _examples(run: Sequence[ActionEvent]) -> list[str]:
    """Distinct 'METHOD /path -> status' of a run of API errors, a few at most."""
    seen: dict[str, None] = {}
    for event in run:
        method = event.details.get("method") or ""
        path = event.details.get("path") or "?"
        status = event.details.get("status")
        seen[f"{method} {path} -> {status}".strip()] = None
    return list(seen)[:MAX_EXAMPLES]


def headline(alert: OutboxAlert) -> Headline:
    d = alert.details
    requests = code_list(d.get("requests") or []) or "_unknown_"
    return Headline(
        ":warning:",
        "Repeated API errors",
        [
            ("User", code(alert.user_id)),
            (
                "Errors",
                f"{int(d.get('count', 0))} within {minutes(d.get('window_minutes'))} minutes",
            ),
            ("Between", f"{when(d.get('first_at'))} and {when(d.get('last_at'))}"),
            ("Requests", requests),
        ],
    )


RULE = EventRule(
    name=NAME,
    fires_when=(
        f"≥ {COUNT} `api_error` actions of one user within {minutes(WINDOW.seconds / 60)} minutes"
    ),
    entity="user",
    per_hour=True,
    actions=frozenset({"api_error"}),
    triggers=frozenset({"api_error"}),
    window=WINDOW,
    evaluate=repeated_api_errors,
    headline=headline,
)
