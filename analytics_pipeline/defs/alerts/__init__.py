"""Dagster definitions of the alerts capability."""

import dagster as dg

defs = dg.Definitions()
