"""The `journey_stream` asset: journey actions and identity links on Kafka (SPEC §10).

It runs in every ingest run after the journeys step (tag `analytics/after_ingest`) and
publishes whatever the lake has beyond the topic's position; the live tail publishes each of
its micro-batches itself. A missing or unwritable topic does not fail the run: the asset
materialises with what it knows, and its check fails saying what to do.
"""

import dagster as dg

from analytics_pipeline.defs.streams.journey import (
    JOURNEY_STREAM,
    PUBLISHING_CHECK,
    PublishLog,
    journey_publisher,
)
from analytics_pipeline.defs.table_metadata import OWNERS
from analytics_pipeline.defs.tags import AFTER_INGEST_TAGS
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.streams.publisher import PublishReport


def stream_off(check_name: str, stream: str) -> dg.MaterializeResult:
    """The materialisation of a stream the Kafka resource names no topic for: off, not failing."""
    return dg.MaterializeResult(
        metadata={"waiting": dg.MetadataValue.text(f"off: no {stream} topic configured")},
        check_results=[
            dg.AssetCheckResult(
                check_name=check_name,
                passed=True,
                description=f"the stream is off (the Kafka resource names no {stream} topic)",
            )
        ],
    )


def stream_metadata(report: PublishReport, topic: str) -> dict[str, dg.MetadataValue]:
    lag = (
        report.lake_watermark - report.position
        if report.lake_watermark is not None and report.position is not None
        else None
    )
    return {
        "topic": dg.MetadataValue.text(topic),
        "records_published": dg.MetadataValue.int(report.records),
        "transactions": dg.MetadataValue.int(report.transactions),
        "last_offset": dg.MetadataValue.int(max(report.last_offsets.values(), default=-1)),
        "last_offsets": dg.MetadataValue.json(
            {str(p): o for p, o in sorted(report.last_offsets.items())}
        ),
        "stream_position": dg.MetadataValue.int(report.position or 0),
        "lake_watermark": dg.MetadataValue.int(report.lake_watermark or 0),
        # Lake snapshots the journeys derived beyond the topic (0: caught up; -1: unknown); the
        # key is kept from when the journeys watermark was a batch id.
        "publish_lag_batches": dg.MetadataValue.int(lag if lag is not None else -1),
        "publish_seconds": dg.MetadataValue.float(round(report.seconds, 3)),
        "waiting": dg.MetadataValue.text(report.waiting or "-"),
    }


@dg.asset(
    key=JOURNEY_STREAM,
    deps=[dg.AssetKey("journey_events"), dg.AssetKey("user_identities")],
    pool="ingest",
    group_name="streams",
    kinds={"kafka"},
    tags=AFTER_INGEST_TAGS,
    owners=OWNERS,
    description=(
        "Kafka topic ANALYTICS_JOURNEY_TOPIC (default portal-journeys): one `action` record "
        "per journey event, keyed user:<user_id>, anon:<anonymous_id> or event:<event_id>, "
        "and `identified` records when a browser is linked to a user (SPEC §10). Published "
        "exactly once for read_committed consumers by the run that derives the journeys."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            PUBLISHING_CHECK,
            asset=JOURNEY_STREAM,
            description=(
                "The journey topic takes the stream and holds everything the lake has: fails "
                "while the topic is missing or refuses writes, saying what to do."
            ),
        )
    ],
)
def journey_stream(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kafka: KafkaResource,
) -> dg.MaterializeResult:
    if not kafka.journey_topic:
        return stream_off(PUBLISHING_CHECK, "journey")
    with warehouse.connect() as conn:
        publisher = journey_publisher(kafka, conn)
        try:
            report = PublishLog(context.log)(publisher.publish_pending())
        finally:
            publisher.close()
    context.log.info(
        f"journey stream: {report.records} records in {report.transactions} transactions, "
        f"position {report.position}, lake at {report.lake_watermark}"
    )
    check = dg.AssetCheckResult(
        check_name=PUBLISHING_CHECK,
        passed=report.caught_up,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.waiting or "the topic holds every journeys batch the lake has",
        metadata={"waiting": dg.MetadataValue.text(report.waiting or "-")},
    )
    return dg.MaterializeResult(
        metadata=stream_metadata(report, kafka.journey_topic), check_results=[check]
    )
