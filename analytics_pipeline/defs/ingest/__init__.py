"""Ingest: Kafka → raw tables, plus the journeys and alert steps that follow in the same run."""

import dagster as dg

from analytics_pipeline.defs.ingest.assets import raw_backend_events, raw_clickstream_events
from analytics_pipeline.defs.ingest.sensors import build_ingest_sensor
from analytics_pipeline.defs.tags import AFTER_INGEST_TAG_KEY


def _ingest_job(name: str, raw_asset: dg.AssetsDefinition):
    return dg.define_asset_job(
        name=name,
        selection=dg.AssetSelection.assets(raw_asset)
        | dg.AssetSelection.tag(AFTER_INGEST_TAG_KEY, "true"),
        description="Ingest one offset range, then update journeys and evaluate alert rules.",
    )


ingest_clickstream_job = _ingest_job("ingest_clickstream", raw_clickstream_events)
ingest_backend_job = _ingest_job("ingest_backend", raw_backend_events)

clickstream_ingest_sensor = build_ingest_sensor(
    "clickstream", "clickstream_topic", "ingest_clickstream"
)
# Backend events carry the sign-ups and deployments that alert: their runs go first in the queue.
backend_ingest_sensor = build_ingest_sensor(
    "backend", "backend_topic", "ingest_backend", priority=1
)

defs = dg.Definitions(
    assets=[raw_clickstream_events, raw_backend_events],
    jobs=[ingest_clickstream_job, ingest_backend_job],
    sensors=[clickstream_ingest_sensor, backend_ingest_sensor],
)
