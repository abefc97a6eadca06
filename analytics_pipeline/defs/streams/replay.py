"""The `replay_journey_stream` job: republish a time range, or one user's journey, so a new
consumer can bootstrap from it (SPEC §10; streams/replay.py says what a replay holds).

Launch it from the UI (Jobs > replay_journey_stream > Launchpad) or the CLI:

    DAGSTER_HOME=.devstack/dagster_home dagster job launch -w workspace.yaml \\
        -j replay_journey_stream --config-json \\
        '{"ops": {"replay_journeys": {"config": {"start": "2026-03-01"}}}}'

(the README's journey stream section has more).
"""

import dagster as dg
from pydantic import Field

from analytics_pipeline.defs.streams.journey import journey_publisher
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.streams.journey_lake import lake_id
from analytics_pipeline.streams.publisher import replay_to_topic
from analytics_pipeline.streams.replay import (
    ReplaySelection,
    ReplaySelectionError,
    replay_records,
)

REPLAY_JOB = "replay_journey_stream"


class ReplayConfig(dg.Config):
    start: str | None = Field(
        default=None,
        description="First moment replayed (event time, inclusive): a day such as 2026-03-01 "
        "(midnight UTC) or an RFC 3339 time such as 2026-03-01T10:00:00Z. Empty: no lower bound.",
    )
    end: str | None = Field(
        default=None,
        description="End of the range (exclusive), as `start`. Empty: up to now.",
    )
    user_id: str | None = Field(
        default=None,
        description="Replay only this user's journey (actions now attributed to them, and "
        "their browsers' links). Give a range, a user, or both.",
    )
    topic: str | None = Field(
        default=None,
        description="Where to publish: empty for the journey stream's own topic "
        "(ANALYTICS_JOURNEY_TOPIC), or an existing topic of your choice.",
    )


@dg.op(
    pool="ingest",
    description=(
        "Reads the selected journey actions and identity links from the lake as they are now "
        "and publishes them with the header analytics-replay: true (outside the exactly-once "
        "promise, same record identities)."
    ),
)
def replay_journeys(
    context: dg.OpExecutionContext,
    config: ReplayConfig,
    warehouse: WarehouseResource,
    kafka: KafkaResource,
) -> dg.Output[None]:
    try:
        selection = ReplaySelection.parse(
            start=config.start, end=config.end, user_id=config.user_id
        )
    except ReplaySelectionError as error:
        raise dg.Failure(description=f"replay: {error}", allow_retries=False) from None
    target = config.topic or kafka.journey_topic
    if not target:
        raise dg.Failure(
            description="replay: the journey stream is off (ANALYTICS_JOURNEY_TOPIC is empty); "
            "name a topic in the job's config",
            allow_retries=False,
        )
    with warehouse.connect() as conn:
        records = replay_records(conn, selection, **kafka.journey_topics)
        context.log.info(f"replay of {selection.describe()}: {len(records)} records to {target}")
        if target == kafka.journey_topic:
            publisher = journey_publisher(kafka, conn)
            sent = publisher.replay(records)
            offsets = dict(publisher.last_offsets)
        else:
            offsets = replay_to_topic(
                records, topic=target, lake_id=lake_id(conn), make_producer=kafka.producer
            )
            sent = len(records)
    return dg.Output(
        None,
        metadata={
            "records_replayed": dg.MetadataValue.int(sent),
            "topic": dg.MetadataValue.text(target),
            "selection": dg.MetadataValue.text(selection.describe()),
            "last_offsets": dg.MetadataValue.json({str(p): o for p, o in offsets.items()}),
        },
    )


@dg.job(
    name=REPLAY_JOB,
    description=(
        "Republishes a time range, or one user's journey, to the journey topic or a topic of "
        "your choice, marked analytics-replay: true, so a new consumer can bootstrap from it."
    ),
    # No run retries: a replay that failed half-way is relaunched by whoever asked for it.
    tags={"dagster/max_retries": "0"},
    executor_def=dg.in_process_executor,
)
def replay_journey_stream() -> None:
    replay_journeys()
