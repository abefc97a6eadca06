"""What an alert rule is: one record declaring everything about it, and the helpers rules share.

A rule lives in one file of `alerts/rules/`, which defines `RULE`: its name, what fires it (SPEC
§7's words, for the docs and the dashboard), the journey actions it reads, its window, the
setting it reads, its evaluation and its Slack headline. The outbox reads the actions and
windows from the records, the messages the headlines, the Dagster layer and the dashboard the
names, so nothing else changes when a rule is added.

Two kinds:

- an `EventRule` fires on events themselves: it sees the journey events that are new since
  the last evaluation (plus, for a window, the same users' earlier events within `window`);
- a `ClockRule` fires when time passes (a deployment still open, a user still idle): it sees
  its whole input at every evaluation, read by its own `input_sql`, and says when it next
  becomes due, so the send_alerts sensor evaluates it then even without new events.

Every alert has a stable key, rule + entity + period, so evaluating the same events twice, or
in many small batches, yields the same keys; the outbox stores each key once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analytics_pipeline.alerts.model import ActionEvent, Alert, ClockResult, Headline, OutboxAlert
from analytics_pipeline.alerts.thresholds import Thresholds

EventEvaluation = Callable[[Sequence[ActionEvent], datetime, Thresholds], list[Alert]]
ClockEvaluation = Callable[[Sequence[ActionEvent], datetime, Thresholds], ClockResult]


@dataclass(frozen=True, kw_only=True)
class Rule:
    """What every rule declares."""

    name: str  # the `rule` column and the first part of every key
    fires_when: str  # SPEC §7's "fires when", shown in the docs and the dashboard
    entity: str  # what one alert is about: "user" or "deployment"
    per_hour: bool = False  # once per entity and UTC hour (windowed rules), else once per entity
    actions: frozenset[str]  # the journey actions it reads
    headline: Callable[[OutboxAlert], Headline]  # the Slack message's visible part
    setting: str | None = None  # the Settings field (minutes) it reads through Thresholds

    @property
    def once_per(self) -> str:
        return f"{self.entity} and hour" if self.per_hour else self.entity


@dataclass(frozen=True, kw_only=True)
class EventRule(Rule):
    """Fires on new journey events."""

    evaluate: EventEvaluation
    # A windowed rule also sees the earlier events (its `actions`) of the users whose new events
    # hold one of `triggers`, up to `window` before the lookback horizon.
    window: timedelta = timedelta(0)
    triggers: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class ClockRule(Rule):
    """Fires when time passes; evaluated at every evaluation on its whole input."""

    evaluate: ClockEvaluation
    # Its input: a SELECT of (event_id, user_id, epoch_us(ts), action, details as JSON text)
    # with parameters $since (now - lookback), $rule (its name) and $actions (its actions).
    # It should leave out entities already alerted: they cannot alert again.
    input_sql: str
    watching: str  # metadata name of how many entities it watches, e.g. open_deployments


# -- helpers the rules share ----------------------------------------------------------------


def hour_of(ts: datetime) -> str:
    """The UTC hour a windowed alert belongs to, as it appears in its key: 2026-11-26T10."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H")


def alert_key(rule: str, entity: str, period: str | None = None) -> str:
    return f"{rule}:{entity}" if period is None else f"{rule}:{entity}:{period}"


def recent(ts: datetime, now: datetime, thresholds: Thresholds) -> bool:
    """Only events within the lookback (24 h) of the evaluation time raise alerts."""
    return ts >= now - thresholds.lookback


def by_user(events: Iterable[ActionEvent], actions: set[str]) -> dict[str, list[ActionEvent]]:
    """Events of `actions` with a user, grouped by user, each group in time order."""
    grouped: dict[str, list[ActionEvent]] = defaultdict(list)
    for event in events:
        if event.action in actions and event.user_id:
            grouped[event.user_id].append(event)
    for user_events in grouped.values():
        user_events.sort(key=lambda e: (e.ts, e.event_id))
    return grouped


def unique(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per key: the one with the earliest completing event."""
    chosen: dict[str, Alert] = {}
    for alert in alerts:
        if alert.key not in chosen or alert.event_ts < chosen[alert.key].event_ts:
            chosen[alert.key] = alert
    return sorted(chosen.values(), key=lambda a: (a.event_ts, a.key))


def windows(
    events: Sequence[ActionEvent], count: int, window: timedelta
) -> Iterable[tuple[int, int]]:
    """(first, last) indexes of every run of >= `count` events ending at `last` within `window`.

    `first` is the earliest event still inside the window that ends at `last`. "Within W"
    means the first and last event of the run are at most W apart (inclusive).
    """
    first = 0
    for last, event in enumerate(events):
        while event.ts - events[first].ts > window:
            first += 1
        if last - first + 1 >= count:
            yield first, last
