"""Real-time Slack alerts (SPEC §7).

The pure core, free of I/O: `rules/` (one file per rule, each a record declaring its name,
the actions it reads, its window, setting, evaluation and Slack headline; see `rule_record`),
`thresholds` (the settings the rules read at evaluation time, and the sender's numbers) and
`messages` (the Slack text and blocks around a rule's headline, user-supplied strings escaped
by `analytics_pipeline.slack`). `outbox` reads journey events and writes the `alerts` table in
DuckDB; `evaluation` runs the rules against it; `sender` posts pending alerts through slack_sdk
and records the outcome. The Dagster layer (analytics_pipeline.defs.alerts) only wires these
together.
"""
