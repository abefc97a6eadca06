"""Every default is written once, in settings.py: a resource field defaults to its setting's.

Two copies of a default drift (the ingest sensor's wait was 0 in its resource and 45 in the
settings; the background niceness 0 and 10). A new resource field must say here which setting
it carries, or that it is a client's tuning with no variable of its own.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg

from analytics_pipeline.alerts.rules import rule_settings
from analytics_pipeline.resources import build_resources
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.settings import Settings, load_settings

# resource: {field: the Settings attribute it carries}
SETTING_OF: dict[type[dg.ConfigurableResource], dict[str, str]] = {
    AnalyticsResource: {
        "inactive_after_days": "inactive_after_days",
        "reports_dir": "reports_dir",
        "dead_letter_warn_share": "dead_letter_warn_share",
        "background_niceness": "background_niceness",
    },
    KafkaResource: {
        "bootstrap_servers": "kafka_bootstrap_servers",
        "security_protocol": "kafka_security_protocol",
        "sasl_mechanism": "kafka_sasl_mechanism",
        "sasl_username": "kafka_sasl_username",
        "sasl_password": "kafka_sasl_password",
        "clickstream_topic": "clickstream_topic",
        "backend_topic": "backend_topic",
        "journey_topic": "journey_topic",
        "stage_topic": "stage_topic",
        "max_batch": "ingest_max_batch",
        "max_batch_bytes": "ingest_max_batch_bytes",
        "sensor_wait_seconds": "ingest_sensor_wait_seconds",
        "live_seconds": "ingest_live_seconds",
        "live_idle_seconds": "ingest_live_idle_seconds",
        "writers": "ingest_writers",
    },
    SlackResource: {
        "bot_token": "slack_bot_token",
        "api_url": "slack_api_url",
        "alerts_channel": "slack_alerts_channel",
        "reports_channel": "slack_reports_channel",
    },
    WarehouseResource: {
        "catalog": "lake_catalog",
        "data_path": "lake_data_path",
        "password": "lake_password",
        "metadata_schema": "lake_metadata_schema",
        "snapshot_retention_days": "lake_retention_days",
        "aws_region": "aws_region",
        "aws_endpoint_url": "aws_endpoint_url",
        "aws_access_key_id": "aws_access_key_id",
        "aws_secret_access_key": "aws_secret_access_key",
        "aws_session_token": "aws_session_token",
    },
}
# A client's timeouts and retries: no variable sets them, so the resource is their one place.
CLIENT_TUNING = {
    KafkaResource: {"request_timeout_ms", "bootstrap_timeout_ms"},
    SlackResource: {"timeout_s", "max_rate_limit_wait_s", "max_rate_limit_retries"},
}
# Fields that carry several settings at once: every alert rule's setting, by its Settings field
# (alerts/rules/; each rule's default lives in settings.py).
DERIVED = {AnalyticsResource: {"alert_rule_minutes"}}
# The streams are off in a resource built by hand (tests); build_resources always names them.
OFF_BY_DEFAULT = {"journey_topic", "stage_topic"}
# Secrets reach a resource only as an EnvVar (resources/__init__.py): never a default value.
SECRETS = {"sasl_password", "bot_token", "password", "aws_secret_access_key", "aws_session_token"}


def test_every_resource_field_carries_a_setting_or_is_client_tuning():
    for resource, fields in SETTING_OF.items():
        declared = set(resource.model_fields)
        expected = set(fields) | CLIENT_TUNING.get(resource, set()) | DERIVED.get(resource, set())
        assert declared == expected, f"{resource.__name__}: {declared ^ expected}"


def test_a_resource_field_defaults_to_its_settings_default():
    defaults = Settings()
    for resource, fields in SETTING_OF.items():
        for name, setting in fields.items():
            field = resource.model_fields[name]
            where = f"{resource.__name__}.{name}"
            if name in SECRETS or name in OFF_BY_DEFAULT:
                assert field.default is None, f"{where} must default to None"
            elif not field.is_required():
                expected = getattr(defaults, setting)
                expected = str(expected) if isinstance(expected, Path) else expected
                assert field.default == expected, f"{where} differs from Settings.{setting}"


def test_build_resources_passes_every_setting_to_its_field(tmp_path):
    settings = replace(
        Settings(),
        kafka_bootstrap_servers="kafka.example:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="me",
        clickstream_topic="clicks-x",
        backend_topic="backend-x",
        lake_catalog="postgres:dbname=elsewhere host=db",
        lake_data_path="s3://bucket/lake/",
        lake_metadata_schema="lake_x",
        lake_retention_days=3,
        reports_dir=tmp_path / "reports",
        inactive_after_days=9,
        dead_letter_warn_share=0.25,
        deploy_slow_minutes=4,
        stalled_after_minutes=45,
        journey_topic="journeys-x",
        stage_topic="stages-x",
        aws_region="eu-west-1",
        aws_endpoint_url="http://127.0.0.1:9/",
        aws_access_key_id="key-x",
        ingest_max_batch=123,
        ingest_max_batch_bytes=4567,
        ingest_sensor_wait_seconds=7,
        ingest_live_seconds=33,
        ingest_live_idle_seconds=3,
        ingest_writers=2,
        background_niceness=5,
        slack_api_url="http://127.0.0.1:9/api/",
        slack_alerts_channel="#alerts-x",
        slack_reports_channel="#reports-x",
    )
    built = {type(r): r for r in build_resources(settings).values()}
    for resource, fields in SETTING_OF.items():
        for name, setting in fields.items():
            if name in SECRETS:
                continue
            value, expected = getattr(built[resource], name), getattr(settings, setting)
            if isinstance(expected, Path):
                value, expected = Path(value), expected.resolve()
            assert value == expected, f"{resource.__name__}.{name} is not Settings.{setting}"
    assert built[AnalyticsResource].alert_rule_minutes == {
        name: getattr(settings, name) for name in rule_settings()
    }
    assert built[AnalyticsResource].alert_rule_minutes["stalled_after_minutes"] == 45


def test_an_empty_environment_loads_the_settings_defaults():
    loaded = load_settings({})
    assert replace(loaded, lake_data_path=Settings.lake_data_path) == Settings()
    assert loaded.lake_data_path == str(Path(Settings.lake_data_path).resolve()) + "/"
