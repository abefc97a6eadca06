"""The code location loads, validates and offers what the README promises."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from analytics_pipeline.settings import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


def test_dagster_definitions_validate_passes_for_the_workspace(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-w",
            str(REPO / "workspace.yaml"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Validation successful" in output
    # Dagster's CLI says its own `validate` is superseded by `dg check defs`; nothing else warns
    warnings = [line for line in output.splitlines() if "Warning" in line]
    assert all("definitions_validate_command" in line for line in warnings), output


def test_code_location_offers_the_ingest_sensor_and_jobs():
    from analytics_pipeline.definitions import defs

    repo = defs.get_repository_def()
    assert {
        "ingest_sensor",
        "funnel_staleness_sensor",
        "funnel_catch_up_sensor",
        "freshness_checks_sensor",
    } <= {s.name for s in repo.sensor_defs}
    assert {"ingest", "ingest_clickstream", "ingest_backend", "replay_journey_stream"} <= {
        j.name for j in repo.get_all_jobs()
    }


def test_defaults_match_the_spec():
    settings = load_settings({})
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.topics == ("portal-clickstream", "portal-backend")
    assert settings.lake_catalog == (
        "postgres:dbname=analytics_lake host=127.0.0.1 port=5432 user=dagster"
    )
    assert settings.lake_data_path.endswith("/data/lake/") and settings.lake_password == "dagster"
    assert settings.inactive_after_days == 15 and settings.deploy_slow_minutes == 10
    assert settings.slack_bot_token is None
    assert settings.slack_alerts_channel == "#portal-alerts"
    assert settings.ingest_sensor_wait_seconds == 45
    assert (
        load_settings({"ANALYTICS_INGEST_SENSOR_WAIT_SECONDS": "0"}).ingest_sensor_wait_seconds == 0
    )
    assert settings.background_niceness == 10
    assert load_settings({"ANALYTICS_BACKGROUND_NICENESS": "0"}).background_niceness == 0
    assert settings.dead_letter_warn_share == 0.05
    assert settings.raw_stale_after_minutes == 15 and settings.funnel_catch_up_days == 31
    changed = load_settings(
        {
            "ANALYTICS_DEAD_LETTER_WARN_SHARE": "0.2",
            "ANALYTICS_RAW_STALE_AFTER_MINUTES": "90",
            "ANALYTICS_FUNNEL_CATCH_UP_DAYS": "120",
        }
    )
    assert (
        changed.dead_letter_warn_share,
        changed.raw_stale_after_minutes,
        changed.funnel_catch_up_days,
    ) == (0.2, 90, 120)


def test_the_funnel_and_the_report_share_one_partitions_definition():
    from analytics_pipeline.definitions import defs, settings

    graph = defs.resolve_asset_graph()
    partitions = {
        key.to_user_string(): graph.get(key).partitions_def
        for key in graph.get_all_asset_keys()
        if graph.get(key).partitions_def is not None
    }
    assert {"funnel_daily", "users_by_activation_stage", "funnel_report"} <= set(partitions)
    assert len({id(p) for p in partitions.values()}) == 1, partitions
    [shared] = set(partitions.values())
    assert shared.start.strftime("%Y-%m-%d") == settings.funnel_start_date


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ANALYTICS_INACTIVE_AFTER_DAYS", "fifteen"),
        ("ANALYTICS_DEPLOY_SLOW_MINUTES", "-3"),
        ("KAFKA_BOOTSTRAP_SERVERS", "no-port-here"),
        ("KAFKA_SECURITY_PROTOCOL", "CARRIER_PIGEON"),
        ("SLACK_API_URL", "ftp://slack"),
        ("ANALYTICS_FUNNEL_START_DATE", "01/02/2026"),
        ("ANALYTICS_INGEST_SENSOR_WAIT_SECONDS", "90"),
        ("ANALYTICS_INGEST_SENSOR_WAIT_SECONDS", "soon"),
        ("ANALYTICS_BACKGROUND_NICENESS", "20"),
        ("ANALYTICS_BACKGROUND_NICENESS", "-5"),
        ("ANALYTICS_DEAD_LETTER_WARN_SHARE", "1.5"),
        ("ANALYTICS_DEAD_LETTER_WARN_SHARE", "five percent"),
        ("ANALYTICS_RAW_STALE_AFTER_MINUTES", "0"),
        ("ANALYTICS_FUNNEL_CATCH_UP_DAYS", "a month"),
    ],
)
def test_bad_configuration_fails_at_load_naming_the_variable(variable, value):
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value})


def test_secrets_never_appear_in_the_settings_repr():
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-secret-123",
            "KAFKA_SASL_PASSWORD": "hunter2",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "PLAIN",
        }
    )
    assert "xoxb-secret-123" not in repr(settings)
    assert "hunter2" not in repr(settings)


# --- what the Dagster UI shows (issue 11) -------------------------------------------------

OWNER = "team:data-platform"
TABLE_ASSETS = (
    "raw_clickstream_events",
    "raw_backend_events",
    "dead_letter_events",
    "user_identities",
    "journey_events",
    "user_journeys",
    "users_by_activation_stage",
    "funnel_daily",
    "alerts",
    "report_deliveries",
)
# PDF files; the lake's data files; Kafka topics (SPEC §10)
OTHER_ASSETS = ("funnel_report", "lake_files", "journey_stream", "user_stage_stream")


def asset_specs() -> dict[str, Any]:
    from analytics_pipeline.definitions import defs

    return {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def test_the_catalog_lists_exactly_the_pipelines_assets():
    assert set(asset_specs()) == {*TABLE_ASSETS, *OTHER_ASSETS}


@pytest.mark.parametrize("key", [*TABLE_ASSETS, *OTHER_ASSETS])
def test_every_asset_has_an_owner_a_group_and_a_description_of_what_it_holds(key):
    spec = asset_specs()[key]
    assert spec.owners == [OWNER]
    groups = {"ingest", "journeys", "funnel", "alerts", "report", "maintenance", "streams"}
    assert spec.group_name in groups
    assert spec.description and len(spec.description) > 60


@pytest.mark.parametrize("key", TABLE_ASSETS)
def test_every_table_asset_names_its_table_before_any_run(key):
    assert asset_specs()[key].metadata["dagster/table_name"] == f"analytics.main.{key}"


def run_freshness_checks(instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    from analytics_pipeline.definitions import defs
    from analytics_pipeline.defs.freshness import freshness_checks

    keys = {spec.key for check in freshness_checks for spec in check.check_specs}
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.get_subset(asset_selection=set(), asset_check_selection=keys).execute_in_process(
        instance=instance
    )
    assert result.success
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def funnel_day_due() -> str:
    """The funnel partition the 02:00 UTC deadline expects: yesterday from 02:00 on."""
    now = datetime.now(UTC)
    return (now.date() - timedelta(days=1 if now.hour >= 2 else 2)).isoformat()


def test_freshness_checks_are_red_for_a_stalled_stream_and_a_missed_day_green_once_updated():
    with dg.instance_for_test() as instance:
        never = run_freshness_checks(instance)
        assert set(never) == {"raw_clickstream_events", "raw_backend_events", "funnel_daily"}
        assert all(
            not e.passed and e.severity == dg.AssetCheckSeverity.ERROR for e in never.values()
        )

        instance.report_runless_asset_event(dg.AssetMaterialization("raw_clickstream_events"))
        older = (date.fromisoformat(funnel_day_due()) - timedelta(days=1)).isoformat()
        instance.report_runless_asset_event(
            dg.AssetMaterialization("funnel_daily", partition=older)
        )
        still = run_freshness_checks(instance)
        assert still["raw_clickstream_events"].passed
        assert not still["raw_backend_events"].passed
        assert not still["funnel_daily"].passed  # the day before is there, the due day is not

        instance.report_runless_asset_event(
            dg.AssetMaterialization("funnel_daily", partition=funnel_day_due())
        )
        assert run_freshness_checks(instance)["funnel_daily"].passed


def test_the_freshness_sensor_runs_by_default_and_asks_for_checks_never_evaluated():
    from analytics_pipeline.defs.freshness import freshness_checks_sensor

    assert freshness_checks_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        request = freshness_checks_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(request, dg.RunRequest)
    assert {k.asset_key.to_user_string() for k in request.asset_check_keys} == {
        "raw_clickstream_events",
        "raw_backend_events",
        "funnel_daily",
    }


def test_loading_the_code_and_running_checks_prints_no_warning(tmp_path):
    """What every run does: import the code location and execute steps; stderr stays quiet."""
    script = (
        "import dagster as dg\n"
        "from analytics_pipeline_tests.test_definitions import run_freshness_checks\n"
        "with dg.instance_for_test() as instance:\n"
        "    run_freshness_checks(instance)\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "PYTHONWARNINGS": "default"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
