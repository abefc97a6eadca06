"""Dagster definitions of the ingest capability."""

import dagster as dg

defs = dg.Definitions()
