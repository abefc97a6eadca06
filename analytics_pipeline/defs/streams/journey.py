"""Wiring of the journey stream's publisher to the lake and Kafka resources, and its run log.

One publisher per run step (the live tail keeps one for all its micro-batches); its
transactional id is stable per topic, so a new publisher fences an older one.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import duckdb

from analytics_pipeline.resources.kafka import KafkaResource, KafkaUnavailableError
from analytics_pipeline.streams.journey_lake import lake_id, pending
from analytics_pipeline.streams.publisher import (
    PublishReport,
    StreamPublisher,
    transactional_id,
)

JOURNEY_STREAM = dg.AssetKey("journey_stream")
PUBLISHING_CHECK = "journey_stream_is_publishing"


def journey_publisher(
    kafka: KafkaResource,
    conn: duckdb.DuckDBPyConnection,
    *,
    on_step: Callable[[str], None] | None = None,
) -> StreamPublisher:
    topic = kafka.journey_topic
    if not topic:
        raise ValueError("the journey stream is off: KafkaResource.journey_topic is not set")
    topics = kafka.journey_topics
    lake = lake_id(conn)
    return StreamPublisher(
        topic=topic,
        transactional_id=transactional_id(topic, lake),
        lake_id=lake,
        read_pending=lambda after: pending(conn, after=after, **topics),
        make_producer=kafka.producer,
        make_consumer=kafka.consumer,
        on_step=on_step,
        unavailable_errors=(KafkaUnavailableError,),
        principal=kafka.principal,
        make_admin=kafka.admin,
    )


class PublishLog:
    """Says in the run log when publishing starts waiting and when it resumes (not per try)."""

    def __init__(self, log: dg.DagsterLogManager) -> None:
        self._log = log
        self._waiting: str | None = None

    def __call__(self, report: PublishReport) -> PublishReport:
        if report.waiting and report.waiting != self._waiting:
            self._log.warning(
                f"journey stream waits: {report.waiting} Ingest, journeys and alerts go on."
            )
        elif self._waiting and not report.waiting:
            self._log.info("journey stream publishes again")
        self._waiting = report.waiting
        return report


def publish_step(
    publisher: StreamPublisher, log: dg.DagsterLogManager
) -> Callable[[], PublishReport]:
    """`publish()` for a loop (the live tail): publishes, logs state changes, never raises for
    Kafka trouble."""
    say = PublishLog(log)
    return lambda: say(publisher.publish_pending())
