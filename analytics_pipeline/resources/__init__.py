"""Dagster resources, built once from the settings."""

from __future__ import annotations

import dagster as dg

from analytics_pipeline.alerts.rules import rule_settings
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.settings import Settings


def _secret(value: str | None, name: str) -> str | dg.EnvVar | None:
    """Secrets go in as EnvVar so Dagster never shows their value in config or the UI."""
    return dg.EnvVar(name) if value else None


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "analytics": AnalyticsResource(
            inactive_after_days=settings.inactive_after_days,
            alert_rule_minutes={name: getattr(settings, name) for name in rule_settings()},
            reports_dir=str(settings.reports_dir.resolve()),
            dead_letter_warn_share=settings.dead_letter_warn_share,
            background_niceness=settings.background_niceness,
        ),
        "warehouse": WarehouseResource(
            catalog=settings.lake_catalog,
            data_path=settings.lake_data_path,
            password=_secret(settings.lake_password, "ANALYTICS_LAKE_PASSWORD"),
            metadata_schema=settings.lake_metadata_schema,
            snapshot_retention_days=settings.lake_retention_days,
            aws_region=settings.aws_region,
            aws_endpoint_url=settings.aws_endpoint_url,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=_secret(settings.aws_secret_access_key, "AWS_SECRET_ACCESS_KEY"),
            aws_session_token=_secret(settings.aws_session_token, "AWS_SESSION_TOKEN"),
        ),
        "kafka": KafkaResource(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=_secret(settings.kafka_sasl_password, "KAFKA_SASL_PASSWORD"),
            clickstream_topic=settings.clickstream_topic,
            backend_topic=settings.backend_topic,
            journey_topic=settings.journey_topic,
            stage_topic=settings.stage_topic,
            max_batch=settings.ingest_max_batch,
            max_batch_bytes=settings.ingest_max_batch_bytes,
            writers=settings.ingest_writers,
            sensor_wait_seconds=settings.ingest_sensor_wait_seconds,
            live_seconds=settings.ingest_live_seconds,
            live_idle_seconds=settings.ingest_live_idle_seconds,
        ),
        "slack": SlackResource(
            bot_token=_secret(settings.slack_bot_token, "SLACK_BOT_TOKEN"),
            api_url=settings.slack_api_url,
            alerts_channel=settings.slack_alerts_channel,
            reports_channel=settings.slack_reports_channel,
        ),
    }
