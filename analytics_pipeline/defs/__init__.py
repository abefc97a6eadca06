"""Dagster definitions per capability; each subpackage exports `defs`."""
