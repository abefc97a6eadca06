"""`login_trouble`, key login_trouble:<user>:<YYYY-MM-DDTHH>: >= 3 `login_failed` within 10
minutes and no `logged_in` after them.

A `logged_in` at the same instant as a failure counts as after it. Only the failure that makes
three must lie within the lookback (24 h); the hour of the alert is the UTC hour of it.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from analytics_pipeline.slack import code

NAME = "login_trouble"
COUNT = 3
WINDOW = timedelta(minutes=10)


def login_trouble(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    alerts = []
    for user_id, attempts in by_user(events, {"login_failed", "logged_in"}).items():
        successes = [e.ts for e in attempts if e.action == "logged_in"]
        last_success = max(successes) if successes else None
        # Failures followed by a success (at or after them) are resolved.
        failures = [
            e
            for e in attempts
            if e.action == "login_failed" and (last_success is None or e.ts > last_success)
        ]
        for first, last in windows(failures, COUNT, WINDOW):
            trigger = failures[last]
            if not recent(trigger.ts, now, thresholds):
                continue
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
                        "count": last - first + 1,
                        "window_minutes": WINDOW.total_seconds() / 60,
                        "first_at": iso(failures[first].ts),
                        "last_at": iso(trigger.ts),
                    },
                )
            )
    return unique(alerts)


def headline(alert: OutboxAlert) -> Headline:
    d = alert.details
    return Headline(
        ":lock:",
        "Login trouble",
        [
            ("User", code(alert.user_id)),
            (
                "Failed logins",
                f"{int(d.get('count', 0))} within {minutes(d.get('window_minutes'))} "
                "minutes, no successful login since",
            ),
            ("Between", f"{when(d.get('first_at'))} and {when(d.get('last_at'))}"),
        ],
    )


RULE = EventRule(
    name=NAME,
    fires_when=(
        f"≥ {COUNT} `login_failed` of one user within {minutes(WINDOW.seconds / 60)} minutes, "
        "with no `logged_in` after them"
    ),
    entity="user",
    per_hour=True,
    actions=frozenset({"login_failed", "logged_in"}),
    triggers=frozenset({"login_failed"}),
    window=WINDOW,
    evaluate=login_trouble,
    headline=headline,
)
