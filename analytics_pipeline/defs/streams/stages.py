"""The `user_stage_stream` asset: each user's funnel stage changes on Kafka (SPEC §10).

It runs in the funnel job after users_by_activation_stage, for the same days: it queues the
days' changes in the lake's outbox (one transaction), then publishes every queued publish the
topic does not hold yet. A missing or unwritable topic does not fail the run: the rows stay
queued, the check fails saying what to do, and the next funnel run publishes them.
"""

import dagster as dg

from analytics_pipeline.defs.funnel.assets import USERS_BY_ACTIVATION_STAGE, day_range
from analytics_pipeline.defs.loaded import daily_partitions
from analytics_pipeline.defs.streams.assets import stream_metadata, stream_off
from analytics_pipeline.defs.streams.journey import PublishLog
from analytics_pipeline.defs.table_metadata import OWNERS
from analytics_pipeline.defs.tags import WITH_FUNNEL_TAGS
from analytics_pipeline.resources.kafka import KafkaResource, KafkaUnavailableError
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.streams import stage_lake as stage_stream
from analytics_pipeline.streams.journey_lake import lake_id
from analytics_pipeline.streams.publisher import StreamPublisher, transactional_id

STAGE_STREAM = dg.AssetKey("user_stage_stream")
STAGE_PUBLISHING_CHECK = "user_stage_stream_is_publishing"


def stage_publisher(kafka: KafkaResource, conn) -> StreamPublisher:
    topic = kafka.stage_topic
    if not topic:
        raise ValueError("the stage stream is off: KafkaResource.stage_topic is not set")
    lake = lake_id(conn)
    return StreamPublisher(
        topic=topic,
        transactional_id=transactional_id(topic, lake),
        lake_id=lake,
        read_pending=lambda after: stage_stream.pending(conn, after=after),
        make_producer=kafka.producer,
        make_consumer=kafka.consumer,
        unavailable_errors=(KafkaUnavailableError,),
        principal=kafka.principal,
        make_admin=kafka.admin,
    )


@dg.asset(
    key=STAGE_STREAM,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[USERS_BY_ACTIVATION_STAGE],
    pool="funnel",
    group_name="streams",
    kinds={"kafka"},
    owners=OWNERS,
    tags=WITH_FUNNEL_TAGS,
    description=(
        "Kafka topic ANALYTICS_STAGE_TOPIC (default portal-user-stages): one `stage` record "
        "per user and day whose funnel stage changed that day (or whose earlier record a "
        "recomputed day withdraws), keyed user:<user_id> (SPEC §10). Published exactly once "
        "for read_committed consumers by the funnel run; a recomputed day that did not change "
        "publishes nothing."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            STAGE_PUBLISHING_CHECK,
            asset=STAGE_STREAM,
            description=(
                "The stage topic takes the stream and holds every queued change: fails while "
                "the topic is missing or refuses writes, saying what to do."
            ),
        )
    ],
)
def user_stage_stream(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, kafka: KafkaResource
) -> dg.MaterializeResult:
    first, last = day_range(context)
    if not kafka.stage_topic:
        return stream_off(STAGE_PUBLISHING_CHECK, "stage")
    with warehouse.connect() as conn:
        queued = stage_stream.queue_changes(conn, first, last)
        publisher = stage_publisher(kafka, conn)
        try:
            report = PublishLog(context.log)(publisher.publish_pending())
        finally:
            publisher.close()
    context.log.info(
        f"stage stream: {queued} changes queued for {first} .. {last}, {report.records} "
        f"records published in {report.transactions} transactions"
    )
    metadata = stream_metadata(report, kafka.stage_topic)
    metadata["changes_queued"] = dg.MetadataValue.int(queued)
    check = dg.AssetCheckResult(
        check_name=STAGE_PUBLISHING_CHECK,
        passed=report.caught_up,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.waiting or "the topic holds every stage change queued",
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
