"""Freshness checks: a stalled stream or a missed funnel day turns red in the Dagster UI.

- The raw tables must have been updated in the last RAW_STALE_AFTER: ingest materialises them
  on every run, and runs come as long as Kafka receives events.
- funnel_daily must hold yesterday's partition by FUNNEL_DEADLINE_CRON (02:00 UTC; the funnel
  schedule runs at 00:30, the report at 06:00).

Dagster's own check builders, evaluated by their own sensor: each ingest or funnel run that
materialises an asset also runs its check (the jobs select the assets' checks), and the
sensor launches a check run only when a passing check could have become overdue, so a stall
is noticed with no run at all. Dagster 1.13 marks these builders superseded by
`FreshnessPolicy`; we keep them because the time-partition check asks for the partition of
yesterday (a FreshnessPolicy only sees the latest materialisation of any day, which a late-
data re-run of an old day would refresh) and because check results show up, and are tested,
like every other check. Their supersession notice is therefore silenced here, at the call.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import dagster as dg

from analytics_pipeline.defs.loaded import SETTINGS

RAW_TABLES = (dg.AssetKey("raw_clickstream_events"), dg.AssetKey("raw_backend_events"))
FUNNEL_DAILY = dg.AssetKey("funnel_daily")

RAW_STALE_AFTER = timedelta(minutes=SETTINGS.raw_stale_after_minutes)
# Not settings: the deadline follows the funnel schedule (00:30) and the report (06:00), which
# are code; they change together. A check a minute is well inside any staleness bound.
FUNNEL_DEADLINE_CRON = "0 2 * * *"
SENSOR_INTERVAL_SECONDS = 60

with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=dg.SupersessionWarning)
    raw_freshness_checks = dg.build_last_update_freshness_checks(
        assets=list(RAW_TABLES),
        lower_bound_delta=RAW_STALE_AFTER,
        severity=dg.AssetCheckSeverity.ERROR,
    )
    funnel_freshness_checks = dg.build_time_partition_freshness_checks(
        assets=[FUNNEL_DAILY],
        deadline_cron=FUNNEL_DEADLINE_CRON,
        severity=dg.AssetCheckSeverity.ERROR,
    )
    freshness_checks = [*raw_freshness_checks, *funnel_freshness_checks]
    freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )

defs = dg.Definitions(asset_checks=freshness_checks, sensors=[freshness_checks_sensor])
