"""The one Definitions object of the code location: wiring only."""

from __future__ import annotations

import dagster as dg

from analytics_pipeline.defs import (
    alerts,
    freshness,
    funnel,
    ingest,
    journeys,
    maintenance,
    report,
    streams,
)
from analytics_pipeline.defs.loaded import SETTINGS
from analytics_pipeline.resources import build_resources

settings = SETTINGS

defs = dg.Definitions.merge(
    ingest.defs,
    journeys.defs,
    funnel.defs,
    alerts.defs,
    report.defs,
    maintenance.defs,
    freshness.defs,
    streams.defs,
    # Every run's steps share one process and its attached lake: a subprocess per step would
    # add seconds of Python start-up and a catalog attach to each ingest run.
    dg.Definitions(resources=build_resources(settings), executor=dg.in_process_executor),
)
