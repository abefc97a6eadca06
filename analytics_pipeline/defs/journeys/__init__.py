"""Dagster definitions of the journeys capability."""

import dagster as dg

defs = dg.Definitions()
