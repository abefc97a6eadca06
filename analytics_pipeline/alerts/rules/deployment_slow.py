"""`deployment_slow`, key deployment_slow:<deployment>: a `deployment_started` with no
completed/failed action within ANALYTICS_DEPLOY_SLOW_MINUTES of it, at evaluation time.

A clock rule. A deployment that completes or fails at exactly the threshold after its start is
in time; one still open at exactly that moment is slow, and one that finished late was slow.
Only the start must lie within the lookback (24 h) of the evaluation time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from analytics_pipeline.alerts.format import iso, minutes, when
from analytics_pipeline.alerts.model import ActionEvent, Alert, ClockResult, Headline, OutboxAlert
from analytics_pipeline.alerts.rule_record import ClockRule, alert_key, recent, unique
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.slack import code

NAME = "deployment_slow"
SETTING = "deploy_slow_minutes"  # ANALYTICS_DEPLOY_SLOW_MINUTES
TERMINAL_ACTIONS = frozenset({"deployment_completed", "deployment_failed"})

# Deployment actions of the last day, only the deployment id of their details, and not those of
# deployments already reported slow (they cannot alert again).
INPUT_SQL = """
WITH recent AS (
    SELECT
        event_id, user_id, ts, action,
        json_extract_string(details, '$.deployment_id') AS deployment_id
    FROM journey_events
    WHERE ts >= $since AND list_contains($actions, action)
)
SELECT
    event_id, user_id, epoch_us(ts), action,
    CAST(json_object('deployment_id', deployment_id) AS VARCHAR)
FROM recent
WHERE deployment_id IS NULL OR deployment_id NOT IN (
    SELECT entity FROM alerts WHERE rule = $rule AND entity IS NOT NULL
)
"""


def slow_deployments(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> ClockResult:
    """deployment_slow at `now`; `events` must hold the deployment actions since now - lookback."""
    deploy_slow = thresholds.setting(SETTING)
    starts: dict[str, ActionEvent] = {}
    finished: dict[str, ActionEvent] = {}
    for event in sorted(events, key=lambda e: (e.ts, e.event_id)):
        deployment_id = event.deployment_id
        if deployment_id is None:
            continue  # nothing to match its end against
        if event.action == "deployment_started":
            starts.setdefault(deployment_id, event)
        elif event.action in TERMINAL_ACTIONS:
            finished.setdefault(deployment_id, event)

    slow: list[Alert] = []
    open_count = 0
    next_due: datetime | None = None
    for deployment_id, start in starts.items():
        if not recent(start.ts, now, thresholds):
            continue
        due = start.ts + deploy_slow
        end = finished.get(deployment_id)
        if end is not None and end.ts <= due:
            continue  # finished in time
        if now < due:
            if end is None:
                open_count += 1
                next_due = due if next_due is None else min(next_due, due)
            continue
        slow.append(
            Alert(
                key=alert_key(NAME, deployment_id),
                rule=NAME,
                user_id=start.user_id,
                entity=deployment_id,
                period=None,
                event_ts=start.ts,
                details={
                    "deployment_id": deployment_id,
                    "started_at": iso(start.ts),
                    "threshold_minutes": deploy_slow.total_seconds() / 60,
                    "finished_as": end.action if end is not None else None,
                    "finished_at": iso(end.ts) if end is not None else None,
                },
            )
        )
    return ClockResult(alerts=unique(slow), watching=open_count, next_due_at=next_due)


def headline(alert: OutboxAlert) -> Headline:
    d = alert.details
    if d.get("finished_as"):
        status = f"finished ({code(d['finished_as'])}) at {when(d.get('finished_at'))}"
    else:
        status = f"still running after {minutes(d.get('threshold_minutes'))} minutes"
    return Headline(
        ":turtle:",
        "Deployment is slow",
        [
            ("Deployment", code(d.get("deployment_id"))),
            ("User", code(alert.user_id)),
            ("Started", when(d.get("started_at") or alert.event_ts)),
            ("Status", status),
        ],
    )


RULE = ClockRule(
    name=NAME,
    fires_when=(
        "a `deployment_started` with no completed/failed action `ANALYTICS_DEPLOY_SLOW_MINUTES` "
        "after it, at evaluation time"
    ),
    entity="deployment",
    actions=frozenset({"deployment_started", *TERMINAL_ACTIONS}),
    setting=SETTING,
    evaluate=slow_deployments,
    input_sql=INPUT_SQL,
    watching="open_deployments",
    headline=headline,
)
