"""Funnel: daily-partitioned stage rows and counts, their schedule, late-data staleness, and
the catch-up of days never computed."""

import dagster as dg

from analytics_pipeline.defs.funnel.assets import funnel_daily, users_by_activation_stage
from analytics_pipeline.defs.funnel.catch_up import funnel_catch_up_sensor
from analytics_pipeline.defs.funnel.jobs import funnel_job, funnel_schedule
from analytics_pipeline.defs.funnel.sensors import funnel_staleness_sensor

defs = dg.Definitions(
    assets=[users_by_activation_stage, funnel_daily],
    jobs=[funnel_job],
    schedules=[funnel_schedule],
    sensors=[funnel_staleness_sensor, funnel_catch_up_sensor],
)
