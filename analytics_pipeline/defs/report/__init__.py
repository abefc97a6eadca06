"""Report: the daily funnel report asset, its job and its 06:00 UTC schedule."""

import dagster as dg

from analytics_pipeline.defs.report.assets import funnel_report
from analytics_pipeline.defs.report.schedules import funnel_report_job, funnel_report_schedule

defs = dg.Definitions(
    assets=[funnel_report], jobs=[funnel_report_job], schedules=[funnel_report_schedule]
)
