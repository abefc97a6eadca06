"""Ingest writers side by side (ANALYTICS_INGEST_WRITERS=N): who writes what, and the limits.

Partition p of each topic belongs to writer p % N, always the same one, so one writer's slow
partition never holds up another's. With N = 1 an ingest run is what it always was: the raw
tables, then journeys and the alert rules (and the live tail) in the same run. With N > 1 the
ingest sensor plans, per writer, runs of the raw tables alone (jobs `ingest_raw*`), tagged
`analytics/ingest_writer=<k>`; when one succeeds, `after_ingest_sensor` requests the single
writer of everything after them, `after_ingest` (journeys, then the alert rules), which reads
whatever the raw writers committed since its watermark (a DuckLake snapshot).

How N becomes a limit, with Dagster's own mechanisms (dagster.yaml):

- the raw tables have no pool; `concurrency.runs.tag_concurrency_limits` admits one run per
  value of `analytics/ingest_writer` (`applyLimitPerUniqueValue`), and the sensor only uses
  values 0 … N-1, so at most N raw runs run at once, one per writer;
- journeys and alerts keep pool `ingest` (`default_limit: 1`): one run at a time writes them;
- `max_concurrent_runs` must leave room for N raw runs plus the others.

Nothing relies on the limits for correctness: writers of one partition are serialised by its
lock in the lake's catalog (warehouse/partition_locks.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

WRITER_TAG = "analytics/ingest_writer"
AFTER_INGEST_JOB = "after_ingest"


def writer_of(partition: int, writers: int) -> int:
    """The writer that owns `partition` (the same for every topic, and stable)."""
    return partition % writers


def writer_ends(
    ends: Mapping[str, Mapping[int, int]], writer: int, writers: int
) -> dict[str, dict[int, int]]:
    """The end offsets of the partitions `writer` owns, per topic (topics without any left)."""
    owned = {
        topic: {p: e for p, e in topic_ends.items() if writer_of(p, writers) == writer}
        for topic, topic_ends in ends.items()
    }
    return {topic: partitions for topic, partitions in owned.items() if partitions}


def queued_writers(instance: dg.DagsterInstance, tags: Mapping[str, str]) -> set[int]:
    """Writers with an ingest run still queued (their new messages wait for it to start)."""
    waiting = instance.get_runs(
        dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
            tags=dict(tags),
        ),
        limit=100,
    )
    return {int(run.tags[WRITER_TAG]) for run in waiting if WRITER_TAG in run.tags}


def build_after_ingest_sensor(
    raw_jobs: list[dg.UnresolvedAssetJobDefinition],
    after_ingest_job: dg.UnresolvedAssetJobDefinition,
) -> dg.SensorDefinition:
    """After each raw-only run that succeeded: one `after_ingest` run, unless one is queued
    already (it will read everything committed by the time it starts)."""

    @dg.run_status_sensor(
        name="after_ingest_sensor",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=raw_jobs,
        request_job=after_ingest_job,
        minimum_interval_seconds=2,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "With ANALYTICS_INGEST_WRITERS > 1: after a raw-ingest run succeeds, requests the "
            "journeys and alert rules (one writer, pool `ingest`) unless such a run is queued."
        ),
    )
    def after_ingest_sensor(context: dg.RunStatusSensorContext):
        queued = context.instance.get_runs(
            dg.RunsFilter(
                job_name=after_ingest_job.name,
                statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
            ),
            limit=1,
        )
        if queued:
            return dg.SkipReason(f"{after_ingest_job.name} run {queued[0].run_id} is queued")
        return dg.RunRequest()

    return after_ingest_sensor
