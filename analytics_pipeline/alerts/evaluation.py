"""One evaluation of the alert rules against the warehouse: read, decide, store, in that order.

`evaluate_rules` is what the `alerts` asset runs after every ingest: the event rules on the
journey events that are new since the watermark, plus the clock rule. `evaluate_clock` is the
clock rule alone (deployment_slow), which the send job runs so that a deployment that simply
never finishes is noticed even when no new events arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from analytics_pipeline.alerts import outbox
from analytics_pipeline.alerts.rules import evaluate_event_rules, slow_deployments
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
    open_deployments: int = 0
    next_slow_check_at: datetime | None = None
    new_status: str = "pending"

    @property
    def new_alerts(self) -> int:
        return sum(self.new_by_rule.values())


def evaluate_rules(
    conn: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    thresholds: Thresholds,
    slack_enabled: bool,
) -> RulesReport:
    """Event rules on what is new since the watermark, and the clock rule at `now`.

    One transaction reads the events and stores the alerts with the new watermark: one
    snapshot look-up in the catalog instead of one per statement, and the watermark read and
    moved in the same transaction. A commit conflict (another writer of the outbox) runs the
    whole evaluation again on what is committed then.
    """
    return retry_conflicts(
        lambda: _evaluate_rules(conn, now=now, thresholds=thresholds, slack_enabled=slack_enabled),
        what="storing new alerts",
    )


def _evaluate_rules(
    conn: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    thresholds: Thresholds,
    slack_enabled: bool,
) -> RulesReport:
    status = "pending" if slack_enabled else "skipped"
    with transaction(conn):
        after = outbox.read_watermark(conn)
        upto = outbox.newest_batch(conn, after)
        events = (
            outbox.new_rule_events(conn, after=after, upto=upto, now=now, thresholds=thresholds)
            if upto > after
            else []
        )
        alerts = evaluate_event_rules(events, now, thresholds)
        clock = slow_deployments(
            outbox.deployment_events(conn, now=now, thresholds=thresholds), now, thresholds
        )
        new = outbox.insert_alerts(conn, [*alerts, *clock.slow], status=status, now=now)
        if upto > after:
            outbox.set_watermark(conn, upto, now)
    return RulesReport(
        evaluated_at=now,
        new_by_rule=new,
        watermark_before=after,
        watermark_after=upto,
        events_read=len(events),
        open_deployments=clock.open_deployments,
        next_slow_check_at=clock.next_due_at,
        new_status=status,
    )


def evaluate_clock(
    conn: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    thresholds: Thresholds,
    slack_enabled: bool,
) -> RulesReport:
    """deployment_slow at `now`; the watermark is left alone."""
    clock = slow_deployments(
        outbox.deployment_events(conn, now=now, thresholds=thresholds), now, thresholds
    )
    status = "pending" if slack_enabled else "skipped"
    new = outbox.insert_alerts(conn, clock.slow, status=status, now=now)
    watermark = outbox.read_watermark(conn)
    return RulesReport(
        evaluated_at=now,
        new_by_rule=new,
        watermark_before=watermark,
        watermark_after=watermark,
        open_deployments=clock.open_deployments,
        next_slow_check_at=clock.next_due_at,
        new_status=status,
    )
