"""Maintenance: the lake's upkeep (compaction, snapshot expiry, file clean-up), every hour."""

import dagster as dg

from analytics_pipeline.defs.maintenance.assets import (
    lake_files,
    lake_maintenance_job,
    lake_maintenance_schedule,
)

defs = dg.Definitions(
    assets=[lake_files], jobs=[lake_maintenance_job], schedules=[lake_maintenance_schedule]
)
