"""The activation funnel: users by stage per day and the daily counts (SPEC §6).

`stages` runs funnel.sql for a range of days; the Dagster assets and partitions are in
defs/funnel, the report built on it in report/.
"""
