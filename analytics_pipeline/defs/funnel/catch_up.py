"""Missing funnel days: the sensor that fills them, so a fresh `make run` shows a funnel at once.

The daily schedule only computes yesterday, and the staleness sensor only re-computes days
that were computed before. Nothing would compute the days of a lake that already holds a
week of journeys (the simulator's history, a restore, a pipeline that was down at 00:30).
This sensor does: once journeys have data, it requests the funnel partitions of the last
CATCH_UP_DAYS days that are due, have journeys data on or before them and were never
materialised, as ONE run over their range (single-run backfill policy: one SQL for all days).

It reads only the Dagster instance, never the lake. It stays out of the others' way:
- a day is due only DUE_AFTER its end, so yesterday is left to the 00:30 schedule;
- re-computing days already materialised is the staleness sensor's job (a materialised day
  between two missing ones is re-computed with the range, which is harmless);
- days a queued or running funnel run covers are skipped, and the run key names the range,
  so a range is requested once however often the sensor ticks before its run finishes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from analytics_pipeline.defs.funnel.assets import FUNNEL_KEYS
from analytics_pipeline.defs.funnel.jobs import funnel_job
from analytics_pipeline.defs.funnel.sensors import (
    FUNNEL_SENSOR_INTERVAL_SECONDS,
    RANGE_END_TAG,
    RANGE_START_TAG,
    latest_materialisations,
    stale_from_events,
)
from analytics_pipeline.defs.loaded import SETTINGS, daily_partitions

CATCH_UP_DAYS = SETTINGS.funnel_catch_up_days  # ANALYTICS_FUNNEL_CATCH_UP_DAYS
DUE_AFTER = timedelta(hours=1)  # the funnel schedule computes yesterday at 00:30 UTC
PARTITION_TAG = "dagster/partition"
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass
class CatchUpCursor:
    """user_journeys events read so far, and the earliest day any of them changed."""

    after_storage_id: int = 0
    first_day: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> CatchUpCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(after_storage_id=int(data.get("after", 0)), first_day=data.get("first_day"))

    def dump(self) -> str:
        return json.dumps({"after": self.after_storage_id, "first_day": self.first_day})


def read_first_day(instance: dg.DagsterInstance, cursor: CatchUpCursor) -> CatchUpCursor:
    """Fold the journeys materialisations after the cursor into the earliest day with data."""
    after, first = cursor.after_storage_id, cursor.first_day
    for storage_id, day in stale_from_events(instance, cursor.after_storage_id):
        after = max(after, storage_id)
        if day is not None and (first is None or day < first):
            first = day
    return CatchUpCursor(after_storage_id=after, first_day=first)


def due_days(first_day: str, now: datetime) -> list[str]:
    """Partition keys from `first_day` (within the last CATCH_UP_DAYS) that are due by `now`."""
    last = (now - DUE_AFTER).date() - timedelta(days=1)
    start = max(
        date.fromisoformat(first_day),
        last - timedelta(days=CATCH_UP_DAYS - 1),
        date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d")),
    )
    return [(start + timedelta(days=n)).isoformat() for n in range((last - start).days + 1)]


def _days(first: str, last: str) -> Iterable[str]:
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    while day <= end:
        yield day.isoformat()
        day += timedelta(days=1)


def days_in_flight(instance: dg.DagsterInstance) -> set[str]:
    """Funnel days that a queued or running funnel run will compute."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=funnel_job.name, statuses=IN_FLIGHT), limit=100
    )
    days: set[str] = set()
    for run in runs:
        if PARTITION_TAG in run.tags:
            days.add(run.tags[PARTITION_TAG])
        elif RANGE_START_TAG in run.tags and RANGE_END_TAG in run.tags:
            days.update(_days(run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG]))
    return days


def utc_now() -> datetime:
    """The sensor's clock: one place, so a test can hold it still across midnight."""
    return datetime.now(UTC)


def missing_days(instance: dg.DagsterInstance, first_day: str, now: datetime) -> list[str]:
    """Due days that some funnel asset never materialised and no run is computing."""
    materialised = [set(latest_materialisations(instance, key)) for key in FUNNEL_KEYS]
    done = set.intersection(*materialised)
    busy = days_in_flight(instance)
    return [day for day in due_days(first_day, now) if day not in done and day not in busy]


@dg.sensor(
    name="funnel_catch_up_sensor",
    job=funnel_job,
    minimum_interval_seconds=FUNNEL_SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Computes funnel days never computed (the journeys' history, days missed while the "
        f"pipeline was down), up to the last {CATCH_UP_DAYS}, in one run; yesterday is left to "
        "the 00:30 schedule for its first hour, re-computing changed days to "
        "funnel_staleness_sensor."
    ),
)
def funnel_catch_up_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cursor = read_first_day(context.instance, CatchUpCursor.parse(context.cursor))
    if cursor.first_day is None:
        return dg.SensorResult(skip_reason="no journeys data yet", cursor=cursor.dump())
    missing = missing_days(context.instance, cursor.first_day, utc_now())
    if not missing:
        return dg.SensorResult(skip_reason="no funnel day missing", cursor=cursor.dump())
    first, last = missing[0], missing[-1]
    context.log.info(f"{len(missing)} funnel days never computed: one run for {first}..{last}")
    run_key = f"funnel-catch-up:{first}:{last}"
    if first == last:
        request = dg.RunRequest(run_key=run_key, partition_key=first)
    else:
        request = dg.RunRequest(run_key=run_key, tags={RANGE_START_TAG: first, RANGE_END_TAG: last})
    return dg.SensorResult(run_requests=[request], cursor=cursor.dump())
