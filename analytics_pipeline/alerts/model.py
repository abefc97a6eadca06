"""The alerts' data, shared by the rules, the outbox and the messages (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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


@dataclass(frozen=True)
class ClockResult:
    """What a clock rule found at `now`: its alerts, how many entities it still watches (not
    due yet), and when the first of those becomes due (the sensor runs the rules again then)."""

    alerts: list[Alert]
    watching: int = 0
    next_due_at: datetime | None = None


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
class Headline:
    """The visible part of an alert's message: emoji, title and (label, mrkdwn value) fields
    whose values are already escaped."""

    emoji: str
    title: str
    fields: list[tuple[str, str]]
