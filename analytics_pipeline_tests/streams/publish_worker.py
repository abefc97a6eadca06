"""A run worker of the journey stream, killable at a chosen point (the fault test runs it).

`python -m analytics_pipeline_tests.streams.publish_worker KILL_AT` with the ANALYTICS_LAKE_*
variables, KAFKA_BOOTSTRAP_SERVERS and ANALYTICS_JOURNEY_TOPIC set: it runs the journeys step,
then publishes, as an ingest run does, and SIGKILLs itself at KILL_AT: `lake_commit` (journeys
committed, nothing published), `sent` (records sent in an open Kafka transaction), `committed`
(Kafka committed, before the run could note anything), or `none`.
"""

from __future__ import annotations

import os
import signal
import sys

from analytics_pipeline.defs.streams.journey import journey_publisher
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.warehouse import Lake, connect
from analytics_pipeline.warehouse.journeys import update_journeys


def main(kill_at: str) -> int:
    env = os.environ
    lake = Lake(
        catalog=env["ANALYTICS_LAKE_CATALOG"],
        data_path=env["ANALYTICS_LAKE_DATA_PATH"],
        password=env["ANALYTICS_LAKE_PASSWORD"],
        metadata_schema=env["ANALYTICS_LAKE_METADATA_SCHEMA"] or None,
    )
    kafka = KafkaResource(
        bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        journey_topic=env["ANALYTICS_JOURNEY_TOPIC"],
    )
    analytics = AnalyticsResource()

    def die_at(point: str) -> None:
        if point == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    conn = connect(lake)
    update_journeys(conn, **analytics.topics)
    die_at("lake_commit")
    publisher = journey_publisher(kafka, analytics, conn, on_step=die_at)
    report = publisher.publish_pending()
    publisher.close()
    print(f"published {report.records} records, position {report.position}, {report.waiting}")
    return 0 if report.waiting is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
