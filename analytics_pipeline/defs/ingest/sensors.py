"""The ingest sensor: asks Kafka for end offsets only, and requests one bounded run at a time.

One sensor watches both topics, so each tick queues at most one run, covering whichever topics
have new messages: a backend event (sign-ups, deployments: what alerts) never waits behind a
separate clickstream run in the `ingest` pool (one ingest writer at a time: every ingest
transaction moves the same batch counter, so concurrent ones would only conflict and retry).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import dagster as dg

from analytics_pipeline.ingest.ranges import OffsetRange, plan_topic_runs, topics_run_key
from analytics_pipeline.resources.kafka import KafkaResource

# The tick wait is part of every alert's latency (issue 4). dagster-daemon evaluates sensors
# once per 5 s pass (MIN_INTERVAL_LOOP_TIME), so 2 s means: on every pass. A tick costs one
# end_offsets() call per topic.
SENSOR_INTERVAL_SECONDS = 2
SENSOR_NAME = "ingest_sensor"
INGEST_TAG = "analytics/ingest"
TOPICS_TAG = "analytics/topics"
KINDS = ("backend", "clickstream")  # planning order: alerting events first in a backlog


def load_cursor(raw: str | None) -> dict[str, dict[int, int]]:
    """Cursor shape: {topic: {partition: next_offset}}."""
    if not raw:
        return {}
    return {
        topic: {int(p): int(o) for p, o in partitions.items()}
        for topic, partitions in json.loads(raw).items()
    }


def dump_cursor(cursor: Mapping[str, Mapping[int, int]]) -> str:
    return json.dumps(
        {
            topic: {str(p): o for p, o in sorted(offsets.items())}
            for topic, offsets in cursor.items()
        },
        sort_keys=True,
    )


def advance_cursor(
    cursor: Mapping[str, Mapping[int, int]], ends: Mapping[str, Mapping[int, int]]
) -> dict[str, dict[int, int]]:
    """The cursor of the topics in `ends`: each partition moves to its end offset, never back."""
    advanced = {}
    for topic, topic_ends in ends.items():
        offsets = advanced[topic] = dict(cursor.get(topic, {}))
        for partition, end in topic_ends.items():
            offsets[partition] = max(offsets.get(partition, 0), end)
    return advanced


def ranges_config(ranges: Sequence[OffsetRange]) -> dict:
    return {"ranges": [{"partition": r.partition, "start": r.start, "end": r.end} for r in ranges]}


def build_ingest_sensor(
    jobs: Mapping[frozenset[str], dg.UnresolvedAssetJobDefinition],
) -> dg.SensorDefinition:
    """`jobs` maps the set of kinds a run covers to the job that ingests them."""

    @dg.sensor(
        name=SENSOR_NAME,
        jobs=list(jobs.values()),
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Watches both topics' end offsets and launches one ingest run per range of at most "
            "ANALYTICS_INGEST_MAX_BATCH messages (both topics together). Never opens DuckDB."
        ),
    )
    def ingest_sensor(context: dg.SensorEvaluationContext, kafka: KafkaResource):
        waiting = context.instance.get_runs(
            dg.RunsFilter(
                statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
                tags={INGEST_TAG: "true"},
            ),
            limit=1,
        )
        if waiting:
            # Coalesce: leave the cursor where it is, so the first tick after this run starts
            # requests one run for everything that arrived meanwhile. The queue then holds at
            # most one waiting ingest run instead of growing under sustained traffic.
            return dg.SkipReason(f"ingest run {waiting[0].run_id} is still queued")
        topic_of = {kind: getattr(kafka, f"{kind}_topic") for kind in KINDS}
        cursor = load_cursor(context.cursor)
        ends = {topic_of[kind]: kafka.end_offsets(topic_of[kind]) for kind in KINDS}
        runs = plan_topic_runs(cursor, ends, kafka.max_batch)
        if not runs:
            return dg.SkipReason(f"no new messages on {', '.join(ends)}")
        requests = []
        for run in runs:
            kinds = [kind for kind in KINDS if topic_of[kind] in run]
            requests.append(
                dg.RunRequest(
                    run_key=topics_run_key(run),
                    job_name=jobs[frozenset(kinds)].name,
                    run_config={
                        "ops": {
                            f"raw_{kind}_events": {"config": ranges_config(run[topic_of[kind]])}
                            for kind in kinds
                        }
                    },
                    tags={
                        INGEST_TAG: "true",
                        TOPICS_TAG: ",".join(topic_of[kind] for kind in kinds),
                        "analytics/messages": str(
                            sum(r.size for ranges in run.values() for r in ranges)
                        ),
                    },
                )
            )
        return dg.SensorResult(
            run_requests=requests, cursor=dump_cursor(advance_cursor(cursor, ends))
        )

    return ingest_sensor
