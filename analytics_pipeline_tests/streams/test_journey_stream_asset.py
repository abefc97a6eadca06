"""The journey_stream asset in Dagster, its topic missing at first: journeys and alerts go on,
the check fails saying what to do, and once the topic exists the next run catches up with
every record once; the materialisation shows records published, last offset and lag."""

from __future__ import annotations

import dagster as dg

from analytics_pipeline.defs.alerts.assets import alerts
from analytics_pipeline.defs.journeys.assets import journeys
from analytics_pipeline.defs.streams.assets import journey_stream
from analytics_pipeline.defs.streams.journey import PUBLISHING_CHECK
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.fixtures.stack import unique_topic_name
from analytics_pipeline_tests.fixtures.warehouse import warehouse_resource
from analytics_pipeline_tests.streams.stream_reader import (
    action_ids,
    apply,
    lake_journey,
    read_committed,
)
from analytics_pipeline_tests.streams.test_journey_stream import week


def materialize(instance, lake, kafka: KafkaResource) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [journeys, journey_stream, alerts],
        instance=instance,
        resources={
            "warehouse": warehouse_resource(lake),
            "analytics": AnalyticsResource(),
            "kafka": kafka,
            "slack": SlackResource(),
        },
    )


def stream_outcome(result: dg.ExecuteInProcessResult) -> tuple[dict, dg.AssetCheckEvaluation]:
    [materialization] = result.asset_materializations_for_node("journey_stream")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == PUBLISHING_CHECK]
    return metadata, check


def test_a_missing_topic_holds_the_stream_not_the_run_and_it_catches_up(
    conn, raw, lake, kafka_bootstrap, kafka_admin, dagster_instance
):
    topic = unique_topic_name("journeys")
    kafka = KafkaResource(bootstrap_servers=kafka_bootstrap, journey_topic=topic)
    raw.add(week()[0])

    missing = materialize(dagster_instance, lake, kafka)
    assert missing.success
    done = {e.asset_key.to_user_string() for e in missing.get_asset_materialization_events()}
    assert {"journey_events", "alerts", "journey_stream"} <= done
    metadata, check = stream_outcome(missing)
    assert not check.passed
    assert f"topic {topic!r} does not exist" in check.description
    assert "Create the topic" in check.description
    assert metadata["records_published"] == 0 and metadata["publish_lag_batches"] == -1

    raw.add(week()[1])
    kafka_admin.create_topics(
        {topic: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True
    )
    try:
        caught_up = materialize(dagster_instance, lake, kafka)
        metadata, check = stream_outcome(caught_up)
        records = read_committed(kafka_bootstrap, topic)
    finally:
        kafka_admin.delete_topics([topic], raise_errors=False)
    assert check.passed, check.description
    assert metadata["records_published"] == len(records) == 9
    # the position is the journeys watermark: the snapshot of the last raw rows it took
    assert metadata["publish_lag_batches"] == 0 and metadata["stream_position"] == raw.snapshot
    assert metadata["last_offset"] == max(r.offset for r in records)
    ids = action_ids(records)
    assert len(ids) == len(set(ids))
    assert apply(records) == lake_journey(conn)
