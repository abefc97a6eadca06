"""The replay job (SPEC §10) on a real broker, lake and Dagster instance: one user's journey to
a topic of the user's choice, a time range to the live topic (marked, the live stream's
position untouched, so it goes on exactly once), and a replay that asks for nothing refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analytics_pipeline.defs.streams.replay import replay_journey_stream
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.streams.replay import ReplaySelection, ReplaySelectionError
from analytics_pipeline_tests.fixtures.warehouse import warehouse_resource
from analytics_pipeline_tests.streams.schemas import validate_record
from analytics_pipeline_tests.streams.stream_reader import (
    action_ids,
    apply,
    check_format,
    lake_journey,
    read_committed,
)
from analytics_pipeline_tests.streams.test_journey_stream import TOPICS, week


def replay(instance, lake, kafka: KafkaResource, **config):
    return replay_journey_stream.execute_in_process(
        run_config={"ops": {"replay_journeys": {"config": config}}},
        instance=instance,
        resources={"warehouse": warehouse_resource(lake), "kafka": kafka},
        raise_on_error=False,
    )


def replayed_count(result) -> int:
    [materialization] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"] or [
        None
    ]
    assert materialization is not None
    return materialization.event_specific_data.metadata["records_replayed"].value


def test_replays_a_user_elsewhere_and_a_range_on_the_live_topic_without_disturbing_it(
    conn, raw, lake, publisher, journey_topic, make_topic, kafka_bootstrap, dagster_instance
):
    batches = week()
    for batch in batches[:-1]:
        raw.add(batch)
        update_journeys(conn, **TOPICS)
    assert publisher.publish_pending().caught_up
    publisher.close()
    live_before = read_committed(kafka_bootstrap, journey_topic)
    position = {r.headers["analytics-position"] for r in live_before}
    kafka = KafkaResource(bootstrap_servers=kafka_bootstrap, journey_topic=journey_topic)

    # One user's journey, to a topic of the user's choice: what the lake says of u3 now.
    elsewhere = make_topic(3, suffix="replay")
    result = replay(dagster_instance, lake, kafka, user_id="u3", topic=elsewhere)
    assert result.success
    records = read_committed(kafka_bootstrap, elsewhere)
    for record in records:
        check_format(record)
        validate_record(record.value)
        assert record.headers["analytics-replay"] == "true"
        assert "analytics-position" not in record.headers
    u3 = {row for row in lake_journey(conn) if row[2] == "u3"}
    assert u3 and apply(records) == u3
    # a2's browser, linked to u3 by a late earlier link (a3's link comes in the last batch)
    assert {r.value["anonymous_id"] for r in records if r.value["kind"] == "identified"} == {"a2"}
    assert replayed_count(result) == len(records)

    # A range, to the live topic: marked, carrying the position the topic already held.
    result = replay(dagster_instance, lake, kafka, start="2026-03-01", end="2026-03-02T12:00:00Z")
    assert result.success
    after = read_committed(kafka_bootstrap, journey_topic)
    replayed = [r for r in after if r.headers.get("analytics-replay") == "true"]
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, 12, tzinfo=UTC)
    in_range = {
        row
        for row in lake_journey(conn)
        if start <= datetime.fromisoformat(row[3].replace("Z", "+00:00")) < end
    }
    assert {row for row in apply(replayed)} == in_range and in_range
    assert {r.headers["analytics-position"] for r in replayed} == position

    # The live stream goes on from where it was: the next batch once, nothing republished.
    raw.add(batches[-1])
    update_journeys(conn, **TOPICS)
    assert publisher.publish_pending().caught_up
    live = [r for r in read_committed(kafka_bootstrap, journey_topic) if r not in replayed]
    ids = action_ids(live)
    assert len(ids) == len(set(ids)), "the live stream published an action twice"
    assert apply(live) == lake_journey(conn)
    assert len(live) > len(live_before)

    # A replay that asks for nothing fails at once, saying what to give.
    refused = replay(dagster_instance, lake, kafka)
    assert not refused.success
    [failure] = [e for e in refused.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "a time range (start and/or end) or a user_id" in str(failure.event_specific_data)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("yesterday", None, "neither a day"),
        ("2026-03-01T10:00:00", None, "has no time zone"),
        ("2026-03-02", "2026-03-01", "must be before end"),
    ],
)
def test_a_replay_range_that_cannot_be_read_is_refused_saying_why(start, end, message):
    with pytest.raises(ReplaySelectionError, match=message):
        ReplaySelection.parse(start=start, end=end)


def test_a_replay_range_reads_days_and_rfc3339_times_in_utc():
    selection = ReplaySelection.parse(start="2026-03-01", end="2026-03-01T12:30:00+02:00")
    assert selection.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert selection.end == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert ReplaySelection.parse(user_id="u1").describe() == "user 'u1'"
