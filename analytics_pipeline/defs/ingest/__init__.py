"""Ingest: Kafka → raw tables, plus the journeys and alert steps that follow in the same run."""

import dagster as dg

from analytics_pipeline.defs.freshness import raw_freshness_checks
from analytics_pipeline.defs.ingest.assets import (
    dead_letter_events,
    raw_backend_events,
    raw_clickstream_events,
)
from analytics_pipeline.defs.ingest.sensors import build_ingest_sensor
from analytics_pipeline.defs.ingest.writers import AFTER_INGEST_JOB, build_after_ingest_sensor
from analytics_pipeline.defs.tags import AFTER_INGEST_TAG_KEY


def _ingest_job(name: str, *raw_assets: dg.AssetsDefinition):
    return dg.define_asset_job(
        name=name,
        # The raw tables' freshness checks run from freshness_checks_sensor, not in every
        # ingest run (1-2 s more per run on a busy machine).
        selection=(
            dg.AssetSelection.assets(*raw_assets)
            | dg.AssetSelection.tag(AFTER_INGEST_TAG_KEY, "true")
        )
        - dg.AssetSelection.checks(*raw_freshness_checks),
        description="Ingest offset ranges, then update journeys and evaluate alert rules.",
    )


# One job per combination of topics a run covers (the sensor picks it); in a job, the raw
# tables come first, then journeys and the alert rules.
ingest_job = _ingest_job("ingest", raw_clickstream_events, raw_backend_events)
ingest_clickstream_job = _ingest_job("ingest_clickstream", raw_clickstream_events)
ingest_backend_job = _ingest_job("ingest_backend", raw_backend_events)


def _raw_job(name: str, *raw_assets: dg.AssetsDefinition):
    return dg.define_asset_job(
        name=name,
        selection=dg.AssetSelection.assets(*raw_assets),
        description=(
            "One writer's offset ranges, raw tables only (ANALYTICS_INGEST_WRITERS > 1); "
            "after_ingest updates journeys and alerts from what it committed."
        ),
    )


# With ANALYTICS_INGEST_WRITERS > 1 (defs/ingest/writers.py): one writer's raw tables alone,
# then the single writer of journeys and alerts.
ingest_raw_job = _raw_job("ingest_raw", raw_clickstream_events, raw_backend_events)
ingest_raw_clickstream_job = _raw_job("ingest_raw_clickstream", raw_clickstream_events)
ingest_raw_backend_job = _raw_job("ingest_raw_backend", raw_backend_events)
after_ingest_job = dg.define_asset_job(
    name=AFTER_INGEST_JOB,
    selection=dg.AssetSelection.tag(AFTER_INGEST_TAG_KEY, "true"),
    description="Update journeys from what the raw writers committed, then the alert rules.",
)
RAW_JOBS = {
    frozenset({"clickstream", "backend"}): ingest_raw_job,
    frozenset({"clickstream"}): ingest_raw_clickstream_job,
    frozenset({"backend"}): ingest_raw_backend_job,
}

ingest_sensor = build_ingest_sensor(
    {
        frozenset({"clickstream", "backend"}): ingest_job,
        frozenset({"clickstream"}): ingest_clickstream_job,
        frozenset({"backend"}): ingest_backend_job,
    },
    RAW_JOBS,
)
after_ingest_sensor = build_after_ingest_sensor(list(RAW_JOBS.values()), after_ingest_job)

defs = dg.Definitions(
    assets=[raw_clickstream_events, raw_backend_events, dead_letter_events],
    jobs=[
        ingest_job,
        ingest_clickstream_job,
        ingest_backend_job,
        *RAW_JOBS.values(),
        after_ingest_job,
    ],
    sensors=[ingest_sensor, after_ingest_sensor],
)
