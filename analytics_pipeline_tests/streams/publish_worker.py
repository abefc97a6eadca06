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

from kafka import KafkaConsumer, KafkaProducer

from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline.streams.journey_lake import lake_id, pending
from analytics_pipeline.streams.publisher import StreamPublisher, transactional_id
from analytics_pipeline.warehouse import Lake, connect

# Without Dagster (its import is seconds of a loaded machine): the same publisher as the
# journey_stream asset's (defs/streams/journey.py), on plain kafka-python clients.
TOPICS = {"clickstream_topic": "portal-clickstream", "backend_topic": "portal-backend"}


def main(kill_at: str) -> int:
    env = os.environ
    lake = Lake(
        catalog=env["ANALYTICS_LAKE_CATALOG"],
        data_path=env["ANALYTICS_LAKE_DATA_PATH"],
        password=env["ANALYTICS_LAKE_PASSWORD"],
        metadata_schema=env["ANALYTICS_LAKE_METADATA_SCHEMA"] or None,
    )
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    topic = env["ANALYTICS_JOURNEY_TOPIC"]

    def die_at(point: str) -> None:
        if point == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    conn = connect(lake)
    update_journeys(conn, **TOPICS)
    die_at("lake_commit")
    lake_name = lake_id(conn)
    publisher = StreamPublisher(
        topic=topic,
        transactional_id=transactional_id(topic, lake_name),
        lake_id=lake_name,
        read_pending=lambda after: pending(conn, after=after, **TOPICS),
        make_producer=lambda **kw: KafkaProducer(bootstrap_servers=bootstrap, **kw),
        make_consumer=lambda **kw: KafkaConsumer(bootstrap_servers=bootstrap, **kw),
        on_step=die_at,
    )
    report = publisher.publish_pending()
    publisher.close()
    print(f"published {report.records} records, position {report.position}, {report.waiting}")
    return 0 if report.waiting is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
