"""What-if for the alert latency benchmark: ingest sensors that wait while their run is queued.

The shipped ingest sensors request a run for every tick with new messages. Runs share the
`duckdb` pool (one at a time), so when a run cycle (queue, process start, work) takes longer
than a tick, queued runs pile up and every later event waits behind all of them. Here each
ingest sensor skips while a run of its job is still waiting to start; the next tick then
requests one run for everything that arrived meanwhile (its cursor did not move). Used by
`bench_alerts.py --module coalescing_definitions`.
"""

import dagster as dg

from analytics_pipeline import definitions as shipped
from analytics_pipeline.defs import ingest
from analytics_pipeline.resources.kafka import KafkaResource

WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]


def coalescing(original: dg.SensorDefinition, job_name: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=original.name,
        job_name=job_name,
        minimum_interval_seconds=original.minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def sensor(context: dg.SensorEvaluationContext, kafka: KafkaResource):
        waiting = dg.RunsFilter(job_name=job_name, statuses=WAITING)
        if context.instance.get_runs_count(waiting):
            return dg.SkipReason(f"a {job_name} run is still queued; the next one takes all")
        return original._raw_fn(context, kafka)  # the shipped sensor's body

    return sensor


_sensors = {s.name: s for s in ingest.defs.sensors or []}
defs = dg.Definitions.merge(
    dg.Definitions(
        assets=list(ingest.defs.assets or []),
        jobs=list(ingest.defs.jobs or []),
        sensors=[
            coalescing(_sensors["clickstream_ingest_sensor"], "ingest_clickstream"),
            coalescing(_sensors["backend_ingest_sensor"], "ingest_backend"),
        ],
    ),
    shipped.journeys.defs,
    shipped.funnel.defs,
    shipped.alerts.defs,
    shipped.report.defs,
    dg.Definitions(
        resources=shipped.build_resources(shipped.settings), executor=dg.in_process_executor
    ),
)
