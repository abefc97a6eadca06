"""Alerts test helpers: journey events written straight into a real DuckDB warehouse file,
and the alerts definitions run by real Dagster on the PostgreSQL-backed test instance."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import dagster as dg
import pytest

from analytics_pipeline.defs.alerts.assets import alerts as alerts_asset
from analytics_pipeline.defs.alerts.send import send_alerts_job
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.warehouse import Lake, connect
from analytics_pipeline.warehouse.snapshots import last_committed_snapshot

_event_ids = count(1)


def minutes_ago(n: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(minutes=n)


@dataclass
class Journey:
    """Writes journey_events rows the way the journeys step does, one ingest batch at a time."""

    path: Lake
    batch: int = 0
    pending: list[tuple] = field(default_factory=list)
    snapshot: int = 0  # the lake snapshot of the last commit (the rules' watermark follows it)

    def add(
        self, action: str, ts: datetime, user: str | None = "user-7", **details: Any
    ) -> Journey:
        self.pending.append(
            ("portal-backend", f"ev-{next(_event_ids)}", user, ts, action, json.dumps(details))
        )
        return self

    def commit(self) -> int:
        """Store the added events as one new ingest batch; returns its id."""
        self.batch += 1
        conn = connect(self.path)
        try:
            # journey_events is a view over these two tables (events with / without a user).
            known = [(*row, self.batch) for row in self.pending if row[2] is not None]
            anonymous = [(*row[:2], *row[3:], self.batch) for row in self.pending if not row[2]]
            if known:
                conn.executemany(
                    "INSERT INTO journey_events_by_user (source_topic, event_id, user_id, ts,"
                    " action, details, ingest_batch_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    known,
                )
            if anonymous:
                conn.executemany(
                    "INSERT INTO journey_events_anonymous (source_topic, event_id, ts, action,"
                    " details, ingest_batch_id) VALUES (?, ?, ?, ?, ?, ?)",
                    anonymous,
                )
            self.snapshot = last_committed_snapshot(conn) or 0
        finally:
            conn.close()
        self.pending.clear()
        return self.batch

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        conn = connect(self.path)
        try:
            return conn.execute(sql, params or []).fetchall()
        finally:
            conn.close()

    def alerts(self) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT alert_key, rule, user_id, status, attempts, slack_ts, last_error "
            "FROM alerts ORDER BY event_ts, alert_key"
        )
        names = ("alert_key", "rule", "user_id", "status", "attempts", "slack_ts", "last_error")
        return [dict(zip(names, row, strict=True)) for row in rows]


@pytest.fixture
def lake(migrated_lake: Lake) -> Lake:
    """Every lake here starts at this release's schema version, a clone of a lake migrated once
    per session (fixtures/warehouse.py): no test here is about migrating one."""
    return migrated_lake


@pytest.fixture
def journey(lake: Lake) -> Journey:
    return Journey(lake)


@dataclass
class AlertsRunner:
    """Runs the alerts asset and the send job in process on the real Dagster instance."""

    instance: dg.DagsterInstance
    warehouse: WarehouseResource
    slack: SlackResource

    def resources(self, slack: SlackResource | None = None) -> dict[str, Any]:
        return {
            "warehouse": self.warehouse,
            "slack": slack or self.slack,
            "analytics": AnalyticsResource(),
            "kafka": KafkaResource(),  # the live tail's; these runs have none (live_seconds 0)
        }

    def evaluate(
        self,
        now: datetime | None = None,
        slack: SlackResource | None = None,
        post: bool = False,
        **config: Any,
    ) -> dg.ExecuteInProcessResult:
        """Materialise the `alerts` asset (the rules) and return the run's result.

        `post=False` (unlike the shipped default) leaves new alerts pending, so a test can
        drive the send job itself.
        """
        config["post_new_alerts"] = post
        if now is not None:
            config["evaluate_at"] = now.isoformat()
        return dg.materialize(
            [alerts_asset],
            instance=self.instance,
            resources=self.resources(slack),
            run_config={"ops": {"alerts": {"config": config}}},
        )

    def send(
        self,
        now: datetime | None = None,
        slack: SlackResource | None = None,
        raise_on_error: bool = True,
        **config: Any,
    ) -> dg.ExecuteInProcessResult:
        """Run the send_alerts job once."""
        if now is not None:
            config["evaluate_at"] = now.isoformat()
        return send_alerts_job.execute_in_process(
            instance=self.instance,
            resources=self.resources(slack),
            run_config={"ops": {"send_pending_alerts": {"config": config}}},
            raise_on_error=raise_on_error,
        )


@pytest.fixture
def alerts_runner(
    dagster_instance: dg.DagsterInstance,
    warehouse: WarehouseResource,
    slack_resource: SlackResource,
) -> AlertsRunner:
    return AlertsRunner(instance=dagster_instance, warehouse=warehouse, slack=slack_resource)


def materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.asset_materializations_for_node("alerts")
    return {key: value.value for key, value in event.metadata.items()}
