"""Late data: the sensor that finds stale funnel partitions and re-materialises them.

Every journeys run records in its user_journeys materialisation the earliest day whose funnel
it changed (`funnel_stale_from`). This sensor reads those events from the Dagster event log
(never DuckDB), compares them with each funnel partition's latest materialisation, reports
the stale partitions as an AssetObservation (a summary on each funnel asset plus one per
newly stale partition) and requests one run per contiguous range of stale days (single-run
backfill policy: one run, one SQL per range). A run key per range and change means a range
is requested once per change, however often the sensor ticks before the run finishes.
"""

from collections.abc import Iterator

import dagster as dg

from analytics_pipeline.defs.funnel.assets import FUNNEL_KEYS
from analytics_pipeline.defs.funnel.jobs import funnel_job
from analytics_pipeline.defs.funnel.staleness import (
    StalenessCursor,
    add_touch,
    contiguous_ranges,
    newest_touch_covering,
    stale_partitions,
)
from analytics_pipeline.defs.journeys.assets import FUNNEL_STALE_FROM, USER_JOURNEYS

# Event-log records read per query while a sensor catches up: a batch size of the loop, not
# something a user tunes.
PAGE = 500
# Late data and days never computed change a funnel day's numbers, not an alert: a minute is
# soon enough, and a tick of either sensor reads every funnel partition's latest
# materialisation (the heaviest of an idle code server's sensor evaluations at 30 s).
FUNNEL_SENSOR_INTERVAL_SECONDS = 60
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def stale_from_events(
    instance: dg.DagsterInstance, after_storage_id: int
) -> Iterator[tuple[int, str | None]]:
    """(storage id, `funnel_stale_from` or None) of every user_journeys materialisation after
    `after_storage_id`, oldest first, read page by page."""
    after = after_storage_id
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=USER_JOURNEYS, after_storage_id=after),
            limit=PAGE,
            ascending=True,
        )
        for record in page.records:
            after = max(after, record.storage_id)
            materialization = record.asset_materialization
            value = materialization.metadata.get(FUNNEL_STALE_FROM) if materialization else None
            yield record.storage_id, None if value is None else str(value.value)
        if not page.has_more:
            return


def read_new_touches(instance: dg.DagsterInstance, cursor: StalenessCursor) -> StalenessCursor:
    """Fold every user_journeys materialisation after the cursor into its touches."""
    touches, after = list(cursor.touches), cursor.after_storage_id
    for storage_id, day in stale_from_events(instance, cursor.after_storage_id):
        after = max(after, storage_id)
        if day is not None:
            touches = add_touch(touches, day, storage_id)
    return StalenessCursor(after_storage_id=after, touches=touches, reported=cursor.reported)


def latest_materialisations(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, int]:
    return dict(
        instance.get_latest_storage_id_by_partition(key, dg.DagsterEventType.ASSET_MATERIALIZATION)
    )


@dg.sensor(
    name="funnel_staleness_sensor",
    job=funnel_job,
    minimum_interval_seconds=FUNNEL_SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Finds funnel partitions made stale by late events (journeys runs that changed past "
        "days), reports them as observations and re-materialises them."
    ),
)
def funnel_staleness_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cursor = read_new_touches(context.instance, StalenessCursor.parse(context.cursor))
    stale: set[str] = set()
    for key in FUNNEL_KEYS:
        stale.update(
            stale_partitions(cursor.touches, latest_materialisations(context.instance, key))
        )
    ordered = sorted(stale)

    ranges = contiguous_ranges(ordered)
    described = ", ".join(f"{a}..{b}" if a != b else a for a, b in ranges) or "none"
    events: list[dg.AssetObservation] = []
    if ordered != cursor.reported:
        summary = {
            "stale_partitions": dg.MetadataValue.json(ordered),
            "stale_partition_count": len(ordered),
            "stale_ranges": described,
        }
        newly = sorted(stale.difference(cursor.reported))
        for key in FUNNEL_KEYS:
            events.append(dg.AssetObservation(asset_key=key, metadata=summary))
            events.extend(
                dg.AssetObservation(
                    asset_key=key,
                    partition=partition,
                    metadata={
                        "stale": True,
                        "changed_by_journeys_event": newest_touch_covering(
                            cursor.touches, partition
                        )
                        or 0,
                    },
                )
                for partition in newly
            )
    cursor.reported = ordered

    requests = []
    for first, last in ranges:
        newest = max(newest_touch_covering(cursor.touches, p) or 0 for p in (first, last))
        run_key = f"funnel-stale:{first}:{last}:{newest}"
        if first == last:
            requests.append(dg.RunRequest(run_key=run_key, partition_key=first))
        else:
            requests.append(
                dg.RunRequest(run_key=run_key, tags={RANGE_START_TAG: first, RANGE_END_TAG: last})
            )
    if ordered:
        context.log.info(f"{len(ordered)} stale funnel partitions: {described}")
    return dg.SensorResult(run_requests=requests, asset_events=events, cursor=cursor.dump())
