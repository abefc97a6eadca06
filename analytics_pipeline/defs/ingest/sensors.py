"""Ingest sensors: ask Kafka for end offsets only, and request one run per bounded range."""

from __future__ import annotations

import json

import dagster as dg

from analytics_pipeline.ingestion import plan_runs, run_key
from analytics_pipeline.resources.kafka import KafkaResource

# The tick wait is part of every alert's latency (issue 4): 2 s costs one end_offsets() call.
SENSOR_INTERVAL_SECONDS = 2
TOPIC_TAG = "analytics/topic"


def _load_cursor(raw: str | None, topic: str) -> dict[int, int]:
    """Cursor shape: {topic: {partition: next_offset}}; another topic's entry is ignored."""
    if not raw:
        return {}
    return {int(p): int(o) for p, o in json.loads(raw).get(topic, {}).items()}


def build_ingest_sensor(
    kind: str, topic_attr: str, job_name: str, priority: int = 0
) -> dg.SensorDefinition:
    """`priority` orders queued runs (Dagster's `dagster/priority` tag): higher goes first."""

    @dg.sensor(
        name=f"{kind}_ingest_sensor",
        job_name=job_name,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Watches the {kind} topic's end offsets and launches one ingest run per range of "
            "at most ANALYTICS_INGEST_MAX_BATCH messages. Never opens DuckDB."
        ),
    )
    def ingest_sensor(context: dg.SensorEvaluationContext, kafka: KafkaResource):
        topic = getattr(kafka, topic_attr)
        waiting = context.instance.get_runs(
            dg.RunsFilter(
                job_name=job_name,
                statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
                tags={TOPIC_TAG: topic},
            ),
            limit=1,
        )
        if waiting:
            # Coalesce: leave the cursor where it is, so the next tick after this run starts
            # requests one run for everything that arrived meanwhile. The queue then holds at
            # most one waiting run per topic instead of growing under sustained traffic.
            return dg.SkipReason(f"run {waiting[0].run_id} for {topic} is still queued")
        cursor = _load_cursor(context.cursor, topic)
        ends = kafka.end_offsets(topic)
        runs = plan_runs(cursor, ends, kafka.max_batch)
        if not runs:
            return dg.SkipReason(f"no new messages on {topic}")
        new_cursor = {**cursor, **{p: max(cursor.get(p, 0), e) for p, e in ends.items()}}
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=run_key(topic, ranges),
                    run_config={
                        "ops": {
                            f"raw_{kind}_events": {
                                "config": {
                                    "ranges": [
                                        {"partition": r.partition, "start": r.start, "end": r.end}
                                        for r in ranges
                                    ]
                                }
                            }
                        }
                    },
                    tags={
                        TOPIC_TAG: topic,
                        "dagster/priority": str(priority),
                        "analytics/messages": str(sum(r.size for r in ranges)),
                    },
                )
                for ranges in runs
            ],
            cursor=json.dumps({topic: {str(p): o for p, o in sorted(new_cursor.items())}}),
        )

    return ingest_sensor
