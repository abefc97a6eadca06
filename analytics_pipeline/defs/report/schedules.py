"""Every day at 06:00 UTC, materialise yesterday's funnel report (the last complete day)."""

from __future__ import annotations

import dagster as dg

from analytics_pipeline.defs.report.assets import funnel_report

funnel_report_job = dg.define_asset_job(
    "funnel_report_job",
    selection=[funnel_report],
    description="Render the funnel report of one day and deliver it to Slack.",
)

# For daily partitions the schedule's tick on day D targets partition D-1 (the last one
# complete): the 2026-03-05 06:00 UTC tick renders and posts the 2026-03-04 report.
funnel_report_schedule = dg.build_schedule_from_partitioned_job(
    funnel_report_job,
    name="funnel_report_daily",
    hour_of_day=6,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily at 06:00 UTC: yesterday's funnel report, rendered and posted to Slack.",
)
