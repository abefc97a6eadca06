"""Report fixtures: a seeded warehouse file, the reports folder, and running the asset."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from analytics_pipeline.defs.report.assets import funnel_report
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.warehouse import Lake, connect
from analytics_pipeline_tests.report.seed import SeedUser, at, seed_report_day

DAY = date(2026, 3, 4)
PREVIOUS = DAY - timedelta(days=1)


def small_population(day: date = DAY) -> list[SeedUser]:
    """Nine users over the four stages, some new in their stage, two with hostile ids."""
    before = day - timedelta(days=1)
    long_ago = day - timedelta(days=40)
    return [
        SeedUser("ada@example.com", "signed_up", at(day, 9), None, [(at(day, 9, 5), "logged_in")]),
        SeedUser("<script>alert(1)</script>", "signed_up", at(before, 8), "signed_up"),
        SeedUser(
            "bob</td><td>x",
            "activated",
            at(before, 10),
            "signed_up",
            [(at(day, 11), "project_created"), (at(day, 11, 5), "code_run")],
        ),
        SeedUser(
            "carol",
            "activated",
            at(day - timedelta(days=5), 10),
            "activated",
            [(at(day - timedelta(days=2), 10), "topic_created")],
        ),
        SeedUser(
            "dave",
            "active",
            at(day - timedelta(days=10), 10),
            "activated",
            [
                (at(day - timedelta(days=9), 10), "code_run"),
                (at(day, 15), "deployment_started"),
                (at(day, 15, 3), "deployment_completed"),
            ],
        ),
        SeedUser(
            "erin",
            "active",
            at(day - timedelta(days=20), 10),
            "active",
            [
                (at(day - timedelta(days=19), 10), "code_run"),
                (at(day - timedelta(days=3), 10), "deployment_failed"),
                (at(day - timedelta(days=3), 11), "code_run"),
            ],
            signup_inferred=True,
        ),
        SeedUser(
            "frank",
            "inactive",
            at(long_ago, 10),
            "activated",
            [(at(day - timedelta(days=15), 10), "code_run"), (at(day, 7), "login_failed")],
        ),
        SeedUser(
            "grace",
            "inactive",
            at(long_ago, 10),
            "inactive",
            [(at(long_ago + timedelta(days=1), 10), "topic_created")],
        ),
        SeedUser(
            "heidi & co",
            "inactive",
            at(long_ago, 11),
            "inactive",
            [(at(long_ago + timedelta(days=2), 10), "code_run")],
        ),
    ]


@pytest.fixture
def reports_dir(tmp_path: Path) -> Path:
    """ANALYTICS_REPORTS_DIR for this test (the `analytics` resource carries it)."""
    return tmp_path / "reports"


@pytest.fixture
def lake(migrated_lake: Lake) -> Lake:
    """Every lake here starts at this release's schema version, a clone of a lake migrated once
    per session (fixtures/warehouse.py): no test here is about migrating one."""
    return migrated_lake


@pytest.fixture
def seed(lake: Lake) -> Callable[..., dict]:
    """Write a report day into the test's warehouse file; returns that day's funnel row."""

    def write(users: Sequence[SeedUser] | None = None, day: date = DAY, **kwargs: Any) -> dict:
        conn = connect(lake)
        try:
            return seed_report_day(
                conn, day, small_population(day) if users is None else users, **kwargs
            )
        finally:
            conn.close()

    return write


@pytest.fixture
def run_report(
    dagster_instance: dg.DagsterInstance, warehouse: WarehouseResource, reports_dir: Path
) -> Callable[..., dg.ExecuteInProcessResult]:
    """Materialise `funnel_report` for a day on the PostgreSQL-backed instance."""

    def run(
        slack: SlackResource,
        day: date = DAY,
        *,
        config: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        raise_on_error: bool = True,
    ) -> dg.ExecuteInProcessResult:
        run_config = {"ops": {"funnel_report": {"config": config}}} if config else None
        return dg.materialize(
            [funnel_report],
            partition_key=day.isoformat(),
            instance=dagster_instance,
            resources={
                "warehouse": warehouse,
                "slack": slack,
                # In-process runs: niceness would last for the whole test process.
                "analytics": AnalyticsResource(reports_dir=str(reports_dir), background_niceness=0),
            },
            run_config=run_config,
            tags=tags,
            raise_on_error=raise_on_error,
        )

    return run


@pytest.fixture
def slack_off() -> SlackResource:
    """Slack not configured: no bot token."""
    return SlackResource(bot_token=None, api_url="http://127.0.0.1:9/api/")
