"""Journeys: identity links, journey events and per-user journeys, updated after every ingest."""

import dagster as dg

from analytics_pipeline.defs.journeys.assets import journeys

defs = dg.Definitions(assets=[journeys])
