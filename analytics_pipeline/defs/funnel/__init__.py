"""Dagster definitions of the funnel capability."""

import dagster as dg

defs = dg.Definitions()
