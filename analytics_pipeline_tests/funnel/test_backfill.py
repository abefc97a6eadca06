"""A multi-day backfill through Dagster equals single-day runs, and the CLI command works."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import date

import dagster as dg
import duckdb
import pytest

from analytics_pipeline.defs.funnel.assets import (
    COUNTS_ADD_UP_CHECK,
    MATCHES_STAGES_CHECK,
    ONE_STAGE_CHECK,
    funnel_daily,
    users_by_activation_stage,
)
from analytics_pipeline.defs.funnel.sensors import RANGE_END_TAG, RANGE_START_TAG
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.warehouse import Lake, connect, reading
from analytics_pipeline_tests.fixtures.stack import REPO_ROOT
from analytics_pipeline_tests.fixtures.warehouse import lake_environment, warehouse_resource
from analytics_pipeline_tests.funnel.synthetic import population
from analytics_pipeline_tests.journeys.conftest import TOPICS
from analytics_pipeline_tests.journeys.raw_events import RawBatches

FIRST = date(2026, 3, 1)
DAYS = ("2026-03-14", "2026-03-16")  # the backfill's range
PARTITIONS = ("2026-03-14", "2026-03-15", "2026-03-16")
FUNNEL_ASSETS = [users_by_activation_stage, funnel_daily]


def materialize(instance, path: Lake, *, partition: str | None = None, days=None):
    tags = {RANGE_START_TAG: days[0], RANGE_END_TAG: days[1]} if days else None
    return dg.materialize(
        FUNNEL_ASSETS,
        instance=instance,
        resources={
            "warehouse": warehouse_resource(path),
            # In-process runs: background niceness would last for the whole test process.
            "analytics": AnalyticsResource(background_niceness=0),
        },
        partition_key=partition,
        tags=tags,
    )


def funnel_tables(conn: duckdb.DuckDBPyConnection) -> tuple[list, list]:
    stages = conn.execute(
        "SELECT * FROM users_by_activation_stage ORDER BY day, user_id"
    ).fetchall()
    daily = conn.execute("SELECT * FROM funnel_daily ORDER BY day").fetchall()
    return stages, daily


@pytest.fixture(scope="module")
def populated(new_module_lake: Callable[..., Lake]) -> Lake:
    """60 users over 20 days and their journeys, once for the module; tests write to copies."""
    lake = new_module_lake("populated")
    with closing(connect(lake)) as conn:
        RawBatches(conn).add(population(FIRST, days=20, users=60, seed=11))
        update_journeys(conn, **TOPICS)
    return lake


@dataclass(frozen=True)
class Backfill:
    """One backfill run of DAYS on a copy of `populated` (`lake`, not written to after), and
    the funnel tables it wrote."""

    lake: Lake
    result: dg.ExecuteInProcessResult
    tables: tuple[list, list]


@pytest.fixture(scope="module")
def backfill(new_module_lake: Callable[..., Lake], populated: Lake, funnel_instance) -> Backfill:
    """The run both tests below check, one for what it wrote, one for what it shows."""
    lake = new_module_lake("backfill", like=populated)
    result = materialize(funnel_instance, lake, days=DAYS)
    with closing(connect(lake)) as conn:
        return Backfill(lake, result, funnel_tables(conn))


def test_a_multi_day_backfill_in_one_run_equals_single_day_runs(
    backfill, new_lake, populated, funnel_instance
):
    result = backfill.result
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {ONE_STAGE_CHECK: True, COUNTS_ADD_UP_CHECK: True, MATCHES_STAGES_CHECK: True}
    materialized = {
        (m.asset_key.to_user_string(), m.partition)
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert materialized == {
        (asset, day)
        for asset in ("users_by_activation_stage", "funnel_daily")
        for day in PARTITIONS
    }  # every day of both assets, from one run
    assert len(backfill.tables[1]) == 3 and len(backfill.tables[0]) > 3 * 30

    # each Dagster run costs seconds: 3 days through Dagster here; the SQL of longer ranges
    # is compared with single days in test_range_sql.py
    single = new_lake("single_days", like=populated)
    for day in PARTITIONS:
        assert materialize(funnel_instance, single, partition=day).success
    with closing(connect(single)) as conn:
        assert funnel_tables(conn) == backfill.tables


def test_funnel_metadata_shows_the_day_as_markdown_with_changes(backfill):
    result = backfill.result
    by_partition = {
        m.partition: m.metadata
        for e in result.get_asset_materialization_events()
        for m in [e.event_specific_data.materialization]
        if m.asset_key == dg.AssetKey("funnel_daily")
    }
    assert sorted(by_partition) == list(PARTITIONS)
    first, second, third = (by_partition[day] for day in PARTITIONS)
    table = third["funnel"].value
    assert table.splitlines()[0] == f"| {PARTITIONS[2]} | count | change vs previous day |"
    signed_up_change = third["signed_up"].value - second["signed_up"].value
    assert f"| signed_up | {third['signed_up'].value} | " in table
    assert third["signed_up_change"] == dg.MetadataValue.int(signed_up_change)
    # numbers, not text, so the asset's Plots tab draws each count over the partitions
    for name in ("new_signups", "signed_up", "activated", "active", "inactive"):
        assert isinstance(third[name], dg.IntMetadataValue), name
        assert isinstance(third[f"{name}_change"], dg.IntMetadataValue), name
    assert "signed_up_change" not in first  # no row for the day before it
    # the table as the UI's overview shows it: name, columns, rows
    assert third["dagster/table_name"].value == "analytics.main.funnel_daily"
    assert third["dagster/row_count"] == dg.MetadataValue.int(3)
    assert third["dagster/partition_row_count"] == dg.MetadataValue.int(1)
    columns = [c.name for c in third["dagster/column_schema"].value.columns]
    assert columns[:2] == ["day", "new_signups"]
    assert {"signed_up", "activated", "active", "inactive", "newly_inactive"} <= set(columns)

    stages = {
        m.partition: m.metadata
        for e in result.get_asset_materialization_events()
        for m in [e.event_specific_data.materialization]
        if m.asset_key == dg.AssetKey("users_by_activation_stage")
    }[PARTITIONS[2]]
    per_stage = {s: stages[s].value for s in ("signed_up", "activated", "active", "inactive")}
    assert all(isinstance(stages[s], dg.IntMetadataValue) for s in per_stage)
    assert per_stage == {s: third[s].value for s in per_stage}  # the funnel row agrees
    assert sum(per_stage.values()) == stages["users"].value
    assert stages["dagster/partition_row_count"] == stages["users"]
    assert stages["dagster/table_name"].value == "analytics.main.users_by_activation_stage"
    # the stored row is what the metadata says
    with closing(connect(backfill.lake)) as conn:
        stored = conn.execute(
            "SELECT new_signups, signed_up FROM funnel_daily WHERE day = ?", [PARTITIONS[2]]
        ).fetchone()
    assert stored == (third["new_signups"].value, third["signed_up"].value)


def test_the_documented_cli_backfill_command_runs_one_range(
    new_lake, populated, funnel_dagster_home, funnel_instance
):
    lake = new_lake("cli", like=populated)
    expected_rows = 10

    env = {
        **os.environ,
        "DAGSTER_HOME": str(funnel_dagster_home),
        **lake_environment(lake),
    }
    command = [
        str(REPO_ROOT / ".venv" / "bin" / "dagster"),
        "asset",
        "materialize",
        "--select",
        "users_by_activation_stage,funnel_daily",
        "--partition-range",
        "2026-03-01...2026-03-10",
        "-m",
        "analytics_pipeline.definitions",
    ]
    # run from the repository root, as the README says: the environment wins there too
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    with reading(lake) as check:
        days = check.execute("SELECT count(*) FROM funnel_daily").fetchone()
    assert days == (expected_rows,)
    runs = funnel_instance.get_runs(
        filters=dg.RunsFilter(tags={RANGE_START_TAG: "2026-03-01", RANGE_END_TAG: "2026-03-10"})
    )
    assert len(runs) == 1 and runs[0].is_success
