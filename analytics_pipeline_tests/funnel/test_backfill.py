"""A multi-day backfill through Dagster equals single-day runs, and the CLI command works."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

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
from analytics_pipeline.warehouse import reading
from analytics_pipeline_tests.fixtures.stack import REPO_ROOT
from analytics_pipeline_tests.fixtures.warehouse import lake_environment, warehouse_resource
from analytics_pipeline_tests.funnel.synthetic import population
from analytics_pipeline_tests.journeys.conftest import TOPICS

FIRST = date(2026, 3, 1)
FUNNEL_ASSETS = [users_by_activation_stage, funnel_daily]


def materialize(instance, path: Path, *, partition: str | None = None, days=None):
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


def test_a_multi_day_backfill_in_one_run_equals_single_day_runs(conn, raw, lake, funnel_instance):
    raw.add(population(FIRST, days=20, users=60, seed=11))
    update_journeys(conn, **TOPICS)

    # each Dagster run costs seconds: 6 days through Dagster here; the SQL of longer ranges
    # is compared with single days in test_range_sql.py
    result = materialize(funnel_instance, lake, days=("2026-03-14", "2026-03-19"))
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {ONE_STAGE_CHECK: True, COUNTS_ADD_UP_CHECK: True, MATCHES_STAGES_CHECK: True}
    materialized = {
        (m.asset_key.to_user_string(), m.partition)
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert len(materialized) == 2 * 6  # every day of both assets, from one run
    backfilled = funnel_tables(conn)
    assert len(backfilled[1]) == 6 and len(backfilled[0]) > 6 * 30

    conn.execute("DELETE FROM users_by_activation_stage; DELETE FROM funnel_daily")
    for day in range(14, 20):
        assert materialize(funnel_instance, lake, partition=f"2026-03-{day:02d}").success
    assert funnel_tables(conn) == backfilled


def test_funnel_metadata_shows_the_day_as_markdown_with_changes(conn, raw, lake, funnel_instance):
    raw.add(population(FIRST, days=5, users=20, seed=3))
    update_journeys(conn, **TOPICS)
    result = materialize(funnel_instance, lake, days=("2026-03-01", "2026-03-03"))

    by_partition = {
        m.partition: m.metadata
        for e in result.get_asset_materialization_events()
        for m in [e.event_specific_data.materialization]
        if m.asset_key == dg.AssetKey("funnel_daily")
    }
    assert sorted(by_partition) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    third, second = by_partition["2026-03-03"], by_partition["2026-03-02"]
    table = third["funnel"].value
    assert table.splitlines()[0] == "| 2026-03-03 | count | change vs previous day |"
    signed_up_change = third["signed_up"].value - second["signed_up"].value
    assert f"| signed_up | {third['signed_up'].value} | " in table
    assert third["signed_up_change"] == dg.MetadataValue.int(signed_up_change)
    # numbers, not text, so the asset's Plots tab draws each count over the partitions
    for name in ("new_signups", "signed_up", "activated", "active", "inactive"):
        assert isinstance(third[name], dg.IntMetadataValue), name
        assert isinstance(third[f"{name}_change"], dg.IntMetadataValue), name
    assert "signed_up_change" not in by_partition["2026-03-01"]  # no day before it
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
    }["2026-03-03"]
    per_stage = {s: stages[s].value for s in ("signed_up", "activated", "active", "inactive")}
    assert all(isinstance(stages[s], dg.IntMetadataValue) for s in per_stage)
    assert per_stage == {s: third[s].value for s in per_stage}  # the funnel row agrees
    assert sum(per_stage.values()) == stages["users"].value
    assert stages["dagster/partition_row_count"] == stages["users"]
    assert stages["dagster/table_name"].value == "analytics.main.users_by_activation_stage"
    # the stored row is what the metadata says
    stored = conn.execute(
        "SELECT new_signups, signed_up FROM funnel_daily WHERE day = '2026-03-03'"
    ).fetchone()
    assert stored == (third["new_signups"].value, third["signed_up"].value)


def test_the_documented_cli_backfill_command_runs_one_range(
    conn, raw, lake, funnel_dagster_home, funnel_instance, tmp_path
):
    raw.add(population(FIRST, days=10, users=15, seed=5))
    update_journeys(conn, **TOPICS)
    expected_rows = 10
    conn.close()

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
