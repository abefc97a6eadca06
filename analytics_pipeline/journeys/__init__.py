"""Journeys: each user's actions derived from the raw events in the lake (SPEC §5).

`derive` holds the incremental update (journeys.sql) and its watermark; the Dagster assets
that run it are in defs/journeys, the stream that publishes it in streams/.
"""
