"""Report: the daily funnel report asset, its deliveries ledger, its job and 06:00 schedule."""

import dagster as dg

from analytics_pipeline.defs.report.assets import funnel_report, report_deliveries
from analytics_pipeline.defs.report.schedules import funnel_report_job, funnel_report_schedule

defs = dg.Definitions(
    assets=[funnel_report, report_deliveries],
    jobs=[funnel_report_job],
    schedules=[funnel_report_schedule],
)
