"""The health page's journey stream lag (dashboard/outside.py, dashboard/queries/health.py) on
a real broker and lake: the batches the lake has beyond the topic, zero once published, and a
missing topic or another lake's topic said plainly."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analytics_pipeline.dashboard.outside import journey_stream_lag
from analytics_pipeline.dashboard.queries.health import stream_lake_state
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline.settings import load_settings
from analytics_pipeline.streams.publisher import StreamUnavailableError
from analytics_pipeline_tests.fixtures.stack import unique_topic_name
from analytics_pipeline_tests.streams.test_journey_stream import TOPICS, week


def test_the_lag_counts_lake_snapshots_not_yet_on_the_topic(
    conn, raw, publisher, journey_topic, kafka_bootstrap
):
    settings = replace(
        load_settings({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}), journey_topic=journey_topic
    )
    batches = week()
    raw.add(batches[0])
    update_journeys(conn, **TOPICS)
    published = raw.snapshot  # the journeys watermark is the raw snapshot it took
    assert publisher.publish_pending().caught_up
    for batch in batches[1:3]:
        raw.add(batch)
        update_journeys(conn, **TOPICS)

    lake_id, watermark = stream_lake_state(conn)
    behind = journey_stream_lag(settings, lake_id, watermark)
    assert (behind.position, behind.lake_watermark) == (published, raw.snapshot)
    assert behind.lag == raw.snapshot - published > 0

    assert publisher.publish_pending().caught_up
    lake_id, watermark = stream_lake_state(conn)
    assert journey_stream_lag(settings, lake_id, watermark).lag == 0

    # another lake reading this topic is told it is not its stream
    with pytest.raises(StreamUnavailableError, match="holds the stream of another lake"):
        journey_stream_lag(settings, "0", watermark)
    missing = replace(settings, journey_topic=unique_topic_name("absent"))
    with pytest.raises(StreamUnavailableError, match="does not exist"):
        journey_stream_lag(missing, lake_id, watermark)
