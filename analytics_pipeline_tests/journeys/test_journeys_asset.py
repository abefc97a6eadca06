"""The journeys multi-asset in Dagster: metadata, its check, a cheap run when nothing is new."""

from __future__ import annotations

import dagster as dg

from analytics_pipeline.defs.journeys.assets import (
    FUNNEL_STALE_FROM,
    RAW_EVENT_CHECK,
    JourneysConfig,
    journeys,
)
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline_tests.fixtures.warehouse import warehouse_resource
from analytics_pipeline_tests.journeys.raw_events import at, code_run, identify, page_view, signup

# SPEC §9's required columns.
SPEC_COLUMNS = {
    "user_identities": ("anonymous_id", "user_id", "linked_at"),
    "journey_events": ("source_topic", "event_id", "user_id", "ts", "action", "details"),
    "user_journeys": (
        "user_id",
        "signed_up_at",
        "signup_inferred",
        "first_meaningful_at",
        "last_meaningful_at",
        "meaningful_days",
        "last_seen_at",
    ),
}


def materialize(instance, lake, rebuild: bool = False) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [journeys],
        instance=instance,
        resources={"warehouse": warehouse_resource(lake), "kafka": KafkaResource()},
        run_config=dg.RunConfig({"journeys": JourneysConfig(rebuild=rebuild)}),
    )


def metadata_by_asset(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    return {
        m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()}
        for e in result.get_asset_materialization_events()
        for m in [e.event_specific_data.materialization]
    }


def test_journeys_run_reports_what_it_added_and_checks_its_rows(conn, raw, lake, dagster_instance):
    raw.add(
        page_view("a1", at("2026-03-01", 9)),
        signup("u1", at("2026-03-01", 10)),
        identify("a1", "u1", at("2026-03-01", 10)),
        code_run("u1", at("2026-03-02")),
    )
    result = materialize(dagster_instance, lake)
    assert result.success
    metadata = metadata_by_asset(result)
    assert set(metadata) == {"user_identities", "journey_events", "user_journeys"}
    assert metadata["journey_events"]["rows_added"] == 3
    assert metadata["journey_events"]["event_days_touched"] == ["2026-03-01", "2026-03-02"]
    assert metadata["user_identities"]["identities_linked"] == 1
    assert metadata["user_journeys"]["users_touched"] == 1
    assert metadata["user_journeys"][FUNNEL_STALE_FROM] == "2026-03-01"
    assert {m["watermark"] for m in metadata.values()} == {raw.snapshot}
    [check] = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == (RAW_EVENT_CHECK, True)
    assert check.metadata["events_checked"].value == 3

    again = materialize(dagster_instance, lake)
    quiet = metadata_by_asset(again)
    assert quiet["journey_events"]["rows_added"] == 0
    assert FUNNEL_STALE_FROM not in quiet["user_journeys"]
    assert {m["watermark"] for m in quiet.values()} == {raw.snapshot}
    versions = {
        e.event_specific_data.materialization.tags.get("dagster/data_version")
        for e in again.get_asset_materialization_events()
    }
    assert versions == {str(raw.snapshot)}  # nothing new: the data version does not move


def test_each_journeys_table_shows_its_name_columns_and_row_count(
    conn, raw, lake, dagster_instance
):
    raw.add(
        page_view("a1", at("2026-03-01", 9)),
        signup("u1", at("2026-03-01", 10)),
        identify("a1", "u1", at("2026-03-01", 10)),
        code_run("u1", at("2026-03-02")),
    )
    result = materialize(dagster_instance, lake)
    shown = {
        m.asset_key.to_user_string(): m.metadata
        for e in result.get_asset_materialization_events()
        for m in [e.event_specific_data.materialization]
    }
    expected_rows = {"user_identities": 1, "journey_events": 3, "user_journeys": 1}
    for table, rows in expected_rows.items():
        metadata = shown[table]
        assert metadata["dagster/table_name"].value == f"analytics.main.{table}"
        assert metadata["dagster/row_count"] == dg.MetadataValue.int(rows)
        columns = {c.name: c.type for c in metadata["dagster/column_schema"].value.columns}
        assert set(SPEC_COLUMNS[table]) <= set(columns), table
    assert shown["user_journeys"]["dagster/column_schema"].value.columns[0].name == "user_id"
    # the Plots tab draws numbers only: every count is an int, not text
    assert isinstance(shown["journey_events"]["rows_added"], dg.IntMetadataValue)
    assert isinstance(shown["user_journeys"]["new_users"], dg.IntMetadataValue)

    # the catalog knows the table before any run, and who owns it
    for spec in journeys.specs:
        assert spec.metadata["dagster/table_name"] == f"analytics.main.{spec.key.path[-1]}"
        assert spec.owners == ["team:data-platform"] and spec.description


def test_rebuild_config_recomputes_everything_and_checks_every_row(
    conn, raw, lake, dagster_instance
):
    raw.add(signup("u1", at("2026-03-01")), code_run("u1", at("2026-03-02")))
    materialize(dagster_instance, lake)
    before = conn.execute("SELECT * FROM user_journeys").fetchall()

    result = materialize(dagster_instance, lake, rebuild=True)
    metadata = metadata_by_asset(result)
    assert metadata["journey_events"]["rows_added"] == 2
    assert metadata["user_journeys"][FUNNEL_STALE_FROM] == "2026-03-01"
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["events_checked"].value == 2
    assert conn.execute("SELECT * FROM user_journeys").fetchall() == before


def test_journeys_runs_in_every_ingest_job_after_the_raw_asset():
    from analytics_pipeline.definitions import defs

    for job_name, raw_keys in (
        ("ingest", {"raw_clickstream_events", "raw_backend_events"}),
        ("ingest_clickstream", {"raw_clickstream_events"}),
        ("ingest_backend", {"raw_backend_events"}),
    ):
        job = defs.resolve_job_def(job_name)
        keys = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
        assert raw_keys | {"user_identities", "journey_events", "user_journeys"} <= keys
