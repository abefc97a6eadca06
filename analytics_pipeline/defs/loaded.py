"""The settings the definitions are built from, loaded once per process.

Partitions, freshness checks and sensor schedules exist when the code location loads, before
any resource does, so they read this one Settings object; definitions.py builds the resources
from it too. Everything else reaches a run through the resources.
"""

from __future__ import annotations

import dagster as dg

from analytics_pipeline.settings import load_settings

SETTINGS = load_settings()

# The daily partitions of the funnel and of the report: one definition, so both always agree.
daily_partitions = dg.DailyPartitionsDefinition(start_date=SETTINGS.funnel_start_date)
