"""One evaluation of the alert rules against the lake: read, decide, store, in that order.

`evaluate_rules` is what the `alerts` asset (and each micro-batch of the live tail) runs after
ingest: the event rules on the journey events that are new since the watermark, plus the clock
rules. `evaluate_clock` is the clock rules alone (deployment_slow, onboarding_stalled), which
the send job runs, so that what fires when time passes (a deployment that never finishes, a
user who never gets going) is noticed even when no new events arrive. Both take `now` from
their caller: the Dagster layer's one clock (RulesConfig), which tests set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from analytics_pipeline.alerts import outbox
from analytics_pipeline.alerts.model import Alert
from analytics_pipeline.alerts.rules import CLOCK_RULES, evaluate_event_rules
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.warehouse import retry_conflicts, transaction


@dataclass(frozen=True)
class RulesReport:
    """What one evaluation found and stored."""

    evaluated_at: datetime
    new_by_rule: dict[str, int] = field(default_factory=dict)
    watermark_before: int = 0
    watermark_after: int = 0
    events_read: int = 0
    # Per clock rule's `watching` name: entities it watches that are not due yet.
    watching: dict[str, int] = field(default_factory=dict)
    next_clock_check_at: datetime | None = None  # the first of those becomes due
    new_status: str = "pending"

    @property
    def new_alerts(self) -> int:
        return sum(self.new_by_rule.values())


@dataclass(frozen=True)
class _Clock:
    alerts: list[Alert]
    watching: dict[str, int]
    next_due_at: datetime | None


def _clock_rules(conn: duckdb.DuckDBPyConnection, now: datetime, thresholds: Thresholds) -> _Clock:
    alerts: list[Alert] = []
    watching: dict[str, int] = {}
    due: list[datetime] = []
    for rule in CLOCK_RULES:
        result = rule.evaluate(
            outbox.clock_rule_events(conn, rule, now=now, thresholds=thresholds), now, thresholds
        )
        alerts.extend(result.alerts)
        watching[rule.watching] = result.watching
        if result.next_due_at is not None:
            due.append(result.next_due_at)
    return _Clock(alerts=alerts, watching=watching, next_due_at=min(due, default=None))


def evaluate_rules(
    conn: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    thresholds: Thresholds,
    slack_enabled: bool,
    clock_rules: bool = True,
) -> RulesReport:
    """Event rules on what is new since the watermark, and the clock rules at `now`.

    `clock_rules=False` leaves the clock rules out (their two reads were ~40 of a live
    evaluation's ~110 catalog round trips): for a caller that evaluates them on its own
    cadence, the live tail. The report then watches nothing and has no next clock check.

    What is new (the newest snapshot that committed journey events, whoever committed them)
    comes from the catalog's change log (outbox.newest_batch: 3 catalog queries, where a scan
    of the journey tables costs ~16), so no caller needs to pass its journeys update.

    One transaction reads the events and stores the alerts with the new watermark: one
    snapshot look-up in the catalog instead of one per statement, and the watermark read and
    moved in the same transaction. A commit conflict (another writer of the outbox) runs the
    whole evaluation again on what is committed then.
    """
    return retry_conflicts(
        lambda: _evaluate_rules(
            conn,
            now=now,
            thresholds=thresholds,
            slack_enabled=slack_enabled,
            clock_rules=clock_rules,
        ),
        what="storing new alerts",
    )


def _evaluate_rules(
    conn: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    thresholds: Thresholds,
    slack_enabled: bool,
    clock_rules: bool,
) -> RulesReport:
    status = "pending" if slack_enabled else "skipped"
    with transaction(conn):
        after = outbox.read_watermark(conn)
        upto = outbox.newest_batch(conn, after)
        read = upto > after
        events = (
            outbox.new_rule_events(conn, after=after, upto=upto, now=now, thresholds=thresholds)
            if read
            else []
        )
        alerts = evaluate_event_rules(events, now, thresholds)
        clock = (
            _clock_rules(conn, now, thresholds)
            if clock_rules
            else _Clock(alerts=[], watching={}, next_due_at=None)
        )
        new = outbox.insert_alerts(conn, [*alerts, *clock.alerts], status=status, now=now)
        if upto > after:
            outbox.set_watermark(conn, upto, now)
    return RulesReport(
        evaluated_at=now,
        new_by_rule=new,
        watermark_before=after,
        watermark_after=upto,
        events_read=len(events),
        watching=clock.watching,
        next_clock_check_at=clock.next_due_at,
        new_status=status,
    )


def evaluate_clock(
    conn: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    thresholds: Thresholds,
    slack_enabled: bool,
) -> RulesReport:
    """The clock rules at `now`; the watermark is left alone."""
    clock = _clock_rules(conn, now, thresholds)
    status = "pending" if slack_enabled else "skipped"
    new = outbox.insert_alerts(conn, clock.alerts, status=status, now=now)
    watermark = outbox.read_watermark(conn)
    return RulesReport(
        evaluated_at=now,
        new_by_rule=new,
        watermark_before=watermark,
        watermark_after=watermark,
        watching=clock.watching,
        next_clock_check_at=clock.next_due_at,
        new_status=status,
    )
