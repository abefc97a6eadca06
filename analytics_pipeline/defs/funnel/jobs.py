"""The funnel job (both funnel assets, one day or a range) and its daily schedule."""

import dagster as dg

from analytics_pipeline.defs.funnel.assets import funnel_daily, users_by_activation_stage
from analytics_pipeline.defs.tags import WITH_FUNNEL_TAG_KEY

funnel_job = dg.define_asset_job(
    name="funnel",
    # Tagged assets (the stage stream, defs/streams/stages.py) run in the funnel run too.
    selection=dg.AssetSelection.assets(users_by_activation_stage, funnel_daily)
    | dg.AssetSelection.tag(WITH_FUNNEL_TAG_KEY, "true"),
    description=(
        "users_by_activation_stage then funnel_daily, and the stage stream, for one day or a "
        "range of days."
    ),
)

# Yesterday's partition every day at 00:30 UTC; the report schedule (06:00) reads it.
funnel_schedule = dg.build_schedule_from_partitioned_job(
    funnel_job,
    name="funnel_daily_schedule",
    hour_of_day=0,
    minute_of_hour=30,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
