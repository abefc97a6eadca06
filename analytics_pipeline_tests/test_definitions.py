"""The code location loads, validates and offers what the README promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_code_location_offers_the_ingest_sensor_and_jobs():
    from analytics_pipeline.definitions import defs

    repo = defs.get_repository_def()
    assert "ingest_sensor" in {s.name for s in repo.sensor_defs}
    assert {"ingest", "ingest_clickstream", "ingest_backend"} <= {
        j.name for j in repo.get_all_jobs()
    }


def test_defaults_match_the_spec():
    settings = load_settings({})
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.topics == ("portal-clickstream", "portal-backend")
    assert settings.lake_catalog == (
        "postgres:dbname=analytics_lake host=127.0.0.1 port=5432 user=dagster"
    )
    assert settings.lake_data_path.endswith("/data/lake/") and settings.lake_password is None
    assert settings.inactive_after_days == 15 and settings.deploy_slow_minutes == 10
    assert settings.slack_bot_token is None
    assert settings.slack_alerts_channel == "#portal-alerts"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ANALYTICS_INACTIVE_AFTER_DAYS", "fifteen"),
        ("ANALYTICS_DEPLOY_SLOW_MINUTES", "-3"),
        ("KAFKA_BOOTSTRAP_SERVERS", "no-port-here"),
        ("KAFKA_SECURITY_PROTOCOL", "CARRIER_PIGEON"),
        ("SLACK_API_URL", "ftp://slack"),
        ("ANALYTICS_FUNNEL_START_DATE", "01/02/2026"),
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
