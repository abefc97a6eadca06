"""`new_signup`, key new_signup:<user>: a `signed_up` action."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from analytics_pipeline.alerts.format import iso, when
from analytics_pipeline.alerts.model import ActionEvent, Alert, Headline, OutboxAlert
from analytics_pipeline.alerts.rule_record import EventRule, alert_key, recent, unique
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.slack import code

NAME = "new_signup"


def new_signups(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    alerts = []
    for event in events:
        if event.action != "signed_up" or not event.user_id:
            continue
        if not recent(event.ts, now, thresholds):
            continue
        alerts.append(
            Alert(
                key=alert_key(NAME, event.user_id),
                rule=NAME,
                user_id=event.user_id,
                entity=event.user_id,
                period=None,
                event_ts=event.ts,
                details={"signed_up_at": iso(event.ts)},
            )
        )
    return unique(alerts)


def headline(alert: OutboxAlert) -> Headline:
    return Headline(
        ":tada:",
        "New sign-up",
        [("User", code(alert.user_id)), ("Signed up", when(alert.event_ts))],
    )


RULE = EventRule(
    name=NAME,
    fires_when="a `signed_up` action",
    entity="user",
    actions=frozenset({"signed_up"}),
    evaluate=new_signups,
    headline=headline,
)
