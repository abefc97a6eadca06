"""The journey stream from the live tail: an in-process ingest run on real Kafka and a real
lake publishes its planned sign-up when the tail starts, and a sign-up landing during the tail
in the micro-batch that derives it, before the run ends; each once."""

from __future__ import annotations

import json
import threading
import time

import dagster as dg
from kafka import KafkaConsumer, TopicPartition

from analytics_pipeline.defs import alerts, freshness, ingest, journeys, streams
from analytics_pipeline.defs.ingest.live import LIVE_UNTIL_TAG
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.alerts.test_alerts_end_to_end import signup_event
from analytics_pipeline_tests.streams.stream_reader import read_committed


def test_the_live_tail_publishes_each_micro_batch_before_the_run_ends(
    new_topics, journey_topic, produce, kafka_bootstrap, warehouse, dagster_instance
):
    clickstream, backend = new_topics(1)
    planned = signup_event("user-planned")
    produce(backend, [planned])
    defs = dg.Definitions.merge(
        ingest.defs,
        freshness.defs,
        journeys.defs,
        alerts.defs,
        streams.defs,
        dg.Definitions(
            resources={
                "warehouse": warehouse,
                "slack": SlackResource(),
                "kafka": KafkaResource(
                    bootstrap_servers=kafka_bootstrap,
                    clickstream_topic=clickstream,
                    backend_topic=backend,
                    journey_topic=journey_topic,
                ),
                "analytics": AnalyticsResource(),
            }
        ),
    )
    seen: dict[str, float] = {}
    live = signup_event("user-live")

    def produce_when_live_and_watch() -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=None, isolation_level="read_committed"
        )
        partitions = [TopicPartition(journey_topic, p) for p in range(3)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + 300
        try:
            while time.monotonic() < deadline and "live" not in seen:
                if "planned" in seen and "produced" not in seen:
                    runs = dagster_instance.get_runs(
                        dg.RunsFilter(job_name="ingest_backend"), limit=3
                    )
                    if any(LIVE_UNTIL_TAG in r.tags for r in runs if not r.is_finished):
                        seen["produced"] = time.monotonic()
                        produce(backend, [live])
                for batch in consumer.poll(timeout_ms=100).values():
                    for record in batch:
                        source = json.loads(record.value).get("source_event_id")
                        if source == planned["event_id"]:
                            seen["planned"] = time.monotonic()
                        elif source == live["event_id"]:
                            seen["live"] = time.monotonic()
        finally:
            consumer.close()

    watcher = threading.Thread(target=produce_when_live_and_watch)
    watcher.start()
    started = time.monotonic()
    result = defs.resolve_job_def("ingest_backend").execute_in_process(
        instance=dagster_instance,
        run_config={
            "ops": {
                "raw_backend_events": {
                    "config": {"topic": backend, "ranges": [{"partition": 0, "start": 0, "end": 1}]}
                },
                "alerts": {"config": {"live_seconds": 60, "live_idle_seconds": 4}},
            }
        },
    )
    ended = time.monotonic()
    watcher.join()
    assert result.success
    [materialization] = result.asset_materializations_for_node("journey_stream")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert {"planned", "produced", "live"} <= set(seen), (seen, metadata)
    assert seen["planned"] < ended and seen["live"] < ended, "published by the run itself"
    latency = seen["live"] - seen["produced"]
    print(
        f"STREAM live tail: produce -> journey topic {latency:.2f} s (run {ended - started:.0f} s)"
    )

    records = read_committed(kafka_bootstrap, journey_topic)
    sources = [r.value["source_event_id"] for r in records]
    assert sorted(sources) == sorted([planned["event_id"], live["event_id"]])
    assert metadata["publish_lag_batches"] == 0
