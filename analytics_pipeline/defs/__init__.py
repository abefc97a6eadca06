"""Dagster definitions per capability; each subpackage exports `defs`."""

import warnings

import dagster as dg

# Dagster marks two parameters we rely on as beta (`backfill_policy` for single-run funnel
# backfills, `owners` on sensors and assets) and would print that on every run and load.
warnings.filterwarnings(
    "ignore", category=dg.BetaWarning, message=r"Parameter `(backfill_policy|owners)`"
)
