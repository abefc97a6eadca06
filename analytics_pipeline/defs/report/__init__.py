"""Dagster definitions of the report capability."""

import dagster as dg

defs = dg.Definitions()
