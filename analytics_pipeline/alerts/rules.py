"""Which journey events raise which alert (SPEC §7), as pure functions of events and a clock.

Every alert has a stable key, rule + entity + period, so evaluating the same events twice, or
in many small batches, yields the same keys; the outbox stores each key once.

- `new_signup`, key new_signup:<user>: a `signed_up` action.
- `deployment_failed`, key deployment_failed:<deployment>: a `deployment_failed` action.
- `deployment_slow`, key deployment_slow:<deployment>: a `deployment_started` with no
  completed/failed action within `deploy_slow` of it, at evaluation time (the clock rule).
- `api_errors`, key api_errors:<user>:<YYYY-MM-DDTHH>: >= 3 `api_error` within 5 minutes.
- `login_trouble`, key login_trouble:<user>:<YYYY-MM-DDTHH>: >= 3 `login_failed` within 10
  minutes and no `logged_in` after them.

Boundaries, exactly: "within W" means the first and last event of the run are at most W apart
(inclusive). A deployment that completes or fails at exactly `deploy_slow` after its start is
in time; one still open at exactly that moment is slow. A `logged_in` at the same instant as a
failure counts as after it. Only the event that completes a rule (the signup, the failure, the
error that makes three, the start of a slow deployment) must lie within `lookback` (24 h) of the
evaluation time. The hour of a windowed alert is the UTC hour of that completing event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics_pipeline.alerts.thresholds import Thresholds

NEW_SIGNUP = "new_signup"
DEPLOYMENT_FAILED = "deployment_failed"
DEPLOYMENT_SLOW = "deployment_slow"
API_ERRORS = "api_errors"
LOGIN_TROUBLE = "login_trouble"
RULES: tuple[str, ...] = (NEW_SIGNUP, DEPLOYMENT_FAILED, DEPLOYMENT_SLOW, API_ERRORS, LOGIN_TROUBLE)

# The journey actions each kind of rule reads.
EVENT_RULE_ACTIONS: frozenset[str] = frozenset(
    {"signed_up", "deployment_failed", "api_error", "login_failed", "logged_in"}
)
DEPLOYMENT_ACTIONS: frozenset[str] = frozenset(
    {"deployment_started", "deployment_completed", "deployment_failed"}
)
TERMINAL_DEPLOYMENT_ACTIONS: frozenset[str] = frozenset(
    {"deployment_completed", "deployment_failed"}
)
# Most example paths/messages carried into one windowed alert's details.
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class ActionEvent:
    """One row of journey_events, as the rules need it (`ts` is timezone-aware)."""

    event_id: str
    user_id: str | None
    ts: datetime
    action: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def deployment_id(self) -> str | None:
        value = self.details.get("deployment_id")
        return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class Alert:
    """An alert to store in the outbox; `details` is what the Slack message shows."""

    key: str
    rule: str
    user_id: str | None
    entity: str
    period: str | None
    event_ts: datetime
    details: dict[str, Any]


def hour_of(ts: datetime) -> str:
    """The UTC hour a windowed alert belongs to, as it appears in its key: 2026-11-26T10."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H")


def alert_key(rule: str, entity: str, period: str | None = None) -> str:
    return f"{rule}:{entity}" if period is None else f"{rule}:{entity}:{period}"


def _recent(ts: datetime, now: datetime, thresholds: Thresholds) -> bool:
    return ts >= now - thresholds.lookback


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _by_user(events: Iterable[ActionEvent], actions: set[str]) -> dict[str, list[ActionEvent]]:
    grouped: dict[str, list[ActionEvent]] = defaultdict(list)
    for event in events:
        if event.action in actions and event.user_id:
            grouped[event.user_id].append(event)
    for user_events in grouped.values():
        user_events.sort(key=lambda e: (e.ts, e.event_id))
    return grouped


def _unique(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per key: the one with the earliest completing event."""
    chosen: dict[str, Alert] = {}
    for alert in alerts:
        if alert.key not in chosen or alert.event_ts < chosen[alert.key].event_ts:
            chosen[alert.key] = alert
    return sorted(chosen.values(), key=lambda a: (a.event_ts, a.key))


# -- event rules -------------------------------------------------------------------------


def new_signups(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    alerts = []
    for event in events:
        if event.action != "signed_up" or not event.user_id:
            continue
        if not _recent(event.ts, now, thresholds):
            continue
        alerts.append(
            Alert(
                key=alert_key(NEW_SIGNUP, event.user_id),
                rule=NEW_SIGNUP,
                user_id=event.user_id,
                entity=event.user_id,
                period=None,
                event_ts=event.ts,
                details={"signed_up_at": _iso(event.ts)},
            )
        )
    return _unique(alerts)


def failed_deployments(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    alerts = []
    for event in events:
        if event.action != "deployment_failed" or not _recent(event.ts, now, thresholds):
            continue
        # Without a deployment id the event itself is the entity: still alerted, once.
        entity = event.deployment_id or f"event-{event.event_id}"
        alerts.append(
            Alert(
                key=alert_key(DEPLOYMENT_FAILED, entity),
                rule=DEPLOYMENT_FAILED,
                user_id=event.user_id,
                entity=entity,
                period=None,
                event_ts=event.ts,
                details={
                    "deployment_id": event.deployment_id,
                    "error_message": event.details.get("error_message"),
                    "failed_at": _iso(event.ts),
                },
            )
        )
    return _unique(alerts)


def _windows(
    events: Sequence[ActionEvent], count: int, window: timedelta
) -> Iterable[tuple[int, int]]:
    """(first, last) indexes of every run of >= `count` events ending at `last` within `window`.

    `first` is the earliest event still inside the window that ends at `last`.
    """
    first = 0
    for last, event in enumerate(events):
        while event.ts - events[first].ts > window:
            first += 1
        if last - first + 1 >= count:
            yield first, last


def repeated_api_errors(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    alerts = []
    for user_id, errors in _by_user(events, {"api_error"}).items():
        for first, last in _windows(
            errors, thresholds.api_errors_count, thresholds.api_errors_window
        ):
            trigger = errors[last]
            if not _recent(trigger.ts, now, thresholds):
                continue
            run = errors[first : last + 1]
            period = hour_of(trigger.ts)
            alerts.append(
                Alert(
                    key=alert_key(API_ERRORS, user_id, period),
                    rule=API_ERRORS,
                    user_id=user_id,
                    entity=user_id,
                    period=period,
                    event_ts=trigger.ts,
                    details={
                        "count": len(run),
                        "window_minutes": thresholds.api_errors_window.total_seconds() / 60,
                        "first_at": _iso(run[0].ts),
                        "last_at": _iso(trigger.ts),
                        "requests": _examples(run),
                    },
                )
            )
    return _unique(alerts)


def _examples(run: Sequence[ActionEvent]) -> list[str]:
    """Distinct 'METHOD /path -> status' of a run of API errors, a few at most."""
    seen: dict[str, None] = {}
    for event in run:
        method = event.details.get("method") or ""
        path = event.details.get("path") or "?"
        status = event.details.get("status")
        seen[f"{method} {path} -> {status}".strip()] = None
    return list(seen)[:MAX_EXAMPLES]


def login_trouble(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    alerts = []
    for user_id, attempts in _by_user(events, {"login_failed", "logged_in"}).items():
        successes = [e.ts for e in attempts if e.action == "logged_in"]
        last_success = max(successes) if successes else None
        # Failures followed by a success (at or after them) are resolved.
        failures = [
            e
            for e in attempts
            if e.action == "login_failed" and (last_success is None or e.ts > last_success)
        ]
        for first, last in _windows(
            failures, thresholds.login_failures_count, thresholds.login_failures_window
        ):
            trigger = failures[last]
            if not _recent(trigger.ts, now, thresholds):
                continue
            period = hour_of(trigger.ts)
            alerts.append(
                Alert(
                    key=alert_key(LOGIN_TROUBLE, user_id, period),
                    rule=LOGIN_TROUBLE,
                    user_id=user_id,
                    entity=user_id,
                    period=period,
                    event_ts=trigger.ts,
                    details={
                        "count": last - first + 1,
                        "window_minutes": thresholds.login_failures_window.total_seconds() / 60,
                        "first_at": _iso(failures[first].ts),
                        "last_at": _iso(trigger.ts),
                    },
                )
            )
    return _unique(alerts)


EVENT_RULES = (new_signups, failed_deployments, repeated_api_errors, login_trouble)


def evaluate_event_rules(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    """All rules that fire on events themselves (everything but deployment_slow)."""
    events = list(events)
    alerts: list[Alert] = []
    for rule in EVENT_RULES:
        alerts.extend(rule(events, now, thresholds))
    return alerts


# -- the clock rule ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentClock:
    """What the clock rule found: slow deployments, and when the next open one becomes due."""

    slow: list[Alert]
    open_deployments: int
    next_due_at: datetime | None


def slow_deployments(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> DeploymentClock:
    """deployment_slow at `now`; `events` must hold the deployment actions since now - lookback."""
    starts: dict[str, ActionEvent] = {}
    finished: dict[str, ActionEvent] = {}
    for event in sorted(events, key=lambda e: (e.ts, e.event_id)):
        deployment_id = event.deployment_id
        if deployment_id is None:
            continue  # nothing to match its end against
        if event.action == "deployment_started":
            starts.setdefault(deployment_id, event)
        elif event.action in TERMINAL_DEPLOYMENT_ACTIONS:
            finished.setdefault(deployment_id, event)

    slow: list[Alert] = []
    open_count = 0
    next_due: datetime | None = None
    for deployment_id, start in starts.items():
        if not _recent(start.ts, now, thresholds):
            continue
        due = start.ts + thresholds.deploy_slow
        end = finished.get(deployment_id)
        if end is not None and end.ts <= due:
            continue  # finished in time
        if now < due:
            if end is None:
                open_count += 1
                next_due = due if next_due is None else min(next_due, due)
            continue
        minutes = thresholds.deploy_slow.total_seconds() / 60
        slow.append(
            Alert(
                key=alert_key(DEPLOYMENT_SLOW, deployment_id),
                rule=DEPLOYMENT_SLOW,
                user_id=start.user_id,
                entity=deployment_id,
                period=None,
                event_ts=start.ts,
                details={
                    "deployment_id": deployment_id,
                    "started_at": _iso(start.ts),
                    "threshold_minutes": minutes,
                    "finished_as": end.action if end is not None else None,
                    "finished_at": _iso(end.ts) if end is not None else None,
                },
            )
        )
    return DeploymentClock(slow=_unique(slow), open_deployments=open_count, next_due_at=next_due)
