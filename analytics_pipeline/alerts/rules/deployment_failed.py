"""`deployment_failed`, key deployment_failed:<deployment>: a `deployment_failed` action."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from analytics_pipeline.alerts.format import iso, when
from analytics_pipeline.alerts.model import ActionEvent, Alert, Headline, OutboxAlert
from analytics_pipeline.alerts.rule_record import EventRule, alert_key, recent, unique
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.slack import code

NAME = "deployment_failed"


def failed_deployments(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    alerts = []
    for event in events:
        if event.action != "deployment_failed" or not recent(event.ts, now, thresholds):
            continue
        # Without a deployment id the event itself is the entity: still alerted, once.
        entity = event.deployment_id or f"event-{event.event_id}"
        alerts.append(
            Alert(
                key=alert_key(NAME, entity),
                rule=NAME,
                user_id=event.user_id,
                entity=entity,
                period=None,
                event_ts=event.ts,
                details={
                    "deployment_id": event.deployment_id,
                    "error_message": event.details.get("error_message"),
                    "failed_at": iso(event.ts),
                },
            )
        )
    return unique(alerts)


def headline(alert: OutboxAlert) -> Headline:
    d = alert.details
    return Headline(
        ":x:",
        "Deployment failed",
        [
            ("Deployment", code(d.get("deployment_id"))),
            ("User", code(alert.user_id)),
            ("Failed at", when(d.get("failed_at") or alert.event_ts)),
            ("Error", code(d.get("error_message") or "no error message")),
        ],
    )


RULE = EventRule(
    name=NAME,
    fires_when="a `deployment_failed` action (the message carries its `error_message`)",
    entity="deployment",
    actions=frozenset({"deployment_failed"}),
    evaluate=failed_deployments,
    headline=headline,
)
