"""Real-time Slack alerts (SPEC §7).

The pure core, free of I/O: `thresholds` (every number in one place), `rules` (which journey
events raise which alert, with its stable key) and `messages` (the Slack text and blocks, with
user-supplied strings escaped). `outbox` reads journey events and writes the `alerts` table in
DuckDB; `sender` posts pending alerts through slack_sdk and records the outcome. The Dagster
layer (analytics_pipeline.defs.alerts) only wires these together.
"""
