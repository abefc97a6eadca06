"""The ingest sensor: ranges from end offsets only, bounded, one run for both topics, never
touching the lake; ranges no run stored are requested again, a recreated topic is followed and a
missing one is an error."""

from __future__ import annotations

import functools
import json
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id

from analytics_pipeline.defs.ingest import ingest_sensor
from analytics_pipeline.defs.ingest.live import LIVE_UNTIL_TAG
from analytics_pipeline.defs.ingest.sensors import HANDOFF_S, ends_moved, long_poll_deadline
from analytics_pipeline.resources.kafka import (
    KafkaResource,
    KafkaUnavailableError,
    MissingTopicError,
)
from analytics_pipeline.resources.warehouse import WarehouseResource


@functools.cache
def no_runs_instance() -> dg.DagsterInstance:
    """One in-memory instance for every tick that needs one without runs: making one stamps
    Dagster's storage migrations (~0.4 CPU-s, most of a tick), and a tick adds no run to it
    (`tick` checks). Tests that add runs make their own."""
    return dg.DagsterInstance.ephemeral()


def tick(kafka: KafkaResource, warehouse: WarehouseResource, cursor=None, instance=None):
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"kafka": kafka, "warehouse": warehouse},
        instance=instance or no_runs_instance(),
    )
    result = ingest_sensor(context)
    if instance is None:
        assert not no_runs_instance().get_runs(limit=1), "a tick added a run to the shared one"
    return result


def skip_message(result) -> str | None:
    """The skip reason of a tick that requested nothing (a SkipReason or a SensorResult)."""
    if isinstance(result, dg.SkipReason):
        return result.skip_message
    if isinstance(result, dg.SensorResult) and not result.run_requests:
        return result.skip_reason.skip_message if result.skip_reason else ""
    return None


def commit_group(kafka: KafkaResource, topic: str, offsets: dict[int, int]) -> None:
    """Commit the pipeline's consumer group as a run does after storing a batch."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = kafka.consumer()
    try:
        consumer.commit(
            {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}
        )
    finally:
        consumer.close()


def add_run_of(
    instance: dg.DagsterInstance,
    request: dg.RunRequest,
    status: dg.DagsterRunStatus,
    **tags: str,
) -> dg.DagsterRun:
    """A run of `request`'s job and tags in `instance`, as if the daemon had launched it."""
    return instance.add_run(
        dg.DagsterRun(
            job_name=request.job_name,
            run_id=make_new_run_id(),
            status=status,
            tags={**request.tags, **tags},
        )
    )


def ranges_of(request: dg.RunRequest, kind: str = "clickstream") -> list[tuple[int, int, int]]:
    config = request.run_config["ops"][f"raw_{kind}_events"]["config"]
    return [(r["partition"], r["start"], r["end"]) for r in config["ranges"]]


def test_empty_topics_skip_without_a_run(make_kafka, warehouse):
    result = tick(make_kafka(), warehouse)
    assert "no new messages" in skip_message(result)


def test_new_messages_give_one_bounded_run_per_range_and_advance_the_cursor(
    topics, produce, make_kafka, warehouse, lake
):
    clickstream, backend = topics
    produce(clickstream, [b"m"] * 7, partition=0)
    produce(clickstream, [b"m"] * 5, partition=1)
    result = tick(make_kafka(max_batch=5), warehouse)

    assert [ranges_of(r) for r in result.run_requests] == [
        [(0, 0, 5)],
        [(0, 5, 7), (1, 0, 3)],
        [(1, 3, 5)],
    ]
    assert {r.job_name for r in result.run_requests} == {"ingest_clickstream"}
    assert all(r.run_key.startswith(f"{clickstream}|") for r in result.run_requests)
    assert json.loads(result.cursor) == {clickstream: {"0": 7, "1": 5}, backend: {"0": 0, "1": 0}}
    assert not Path(lake.data_path).exists(), "the sensor must never open the warehouse"


def test_both_topics_share_one_run_and_its_size_bound(topics, produce, make_kafka, warehouse):
    clickstream, backend = topics
    produce(clickstream, [b"m"] * 3, partition=0)
    produce(backend, [b"m"] * 4, partition=1)

    first = tick(make_kafka(), warehouse)
    [request] = first.run_requests
    assert request.job_name == "ingest"
    assert (ranges_of(request, "backend"), ranges_of(request)) == ([(1, 0, 4)], [(0, 0, 3)])
    assert set(request.run_key.split(";")) == {f"{backend}|1:0-4", f"{clickstream}|0:0-3"}
    assert request.tags["analytics/messages"] == "7"

    bounded = tick(make_kafka(max_batch=5), warehouse)
    assert [(r.job_name, r.run_config["ops"].keys()) for r in bounded.run_requests] == [
        ("ingest", {"raw_backend_events", "raw_clickstream_events", "alerts"}),
        ("ingest_clickstream", {"raw_clickstream_events", "alerts"}),
    ]
    assert ranges_of(bounded.run_requests[0], "backend") == [(1, 0, 4)]
    assert [ranges_of(r) for r in bounded.run_requests] == [[(0, 0, 1)], [(0, 1, 3)]]


def test_ranges_start_from_the_cursor_and_pick_up_a_new_partition(
    topics, produce, make_kafka, warehouse
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 4, partition=0)
    produce(clickstream, [b"m"] * 2, partition=1)
    cursor = json.dumps({clickstream: {"0": 3}})
    commit_group(make_kafka(), clickstream, {0: 3})  # a run stored offsets 0-2
    result = tick(make_kafka(), warehouse, cursor)
    assert [ranges_of(r) for r in result.run_requests] == [[(0, 3, 4), (1, 0, 2)]]


def test_same_ranges_give_the_same_run_key(topics, produce, make_kafka, warehouse):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 3, partition=0)
    first = tick(make_kafka(), warehouse)
    second = tick(make_kafka(), warehouse)
    assert [r.run_key for r in first.run_requests] == [r.run_key for r in second.run_requests]


def test_backend_messages_alone_launch_the_backend_job(topics, produce, make_kafka, warehouse):
    _, backend = topics
    produce(backend, [b"m"] * 2, partition=1)
    [request] = tick(make_kafka(), warehouse).run_requests
    assert request.job_name == "ingest_backend"
    assert list(request.run_config["ops"]) == ["raw_backend_events", "alerts"]
    assert ranges_of(request, "backend") == [(1, 0, 2)]


def test_unreachable_kafka_fails_the_tick_naming_the_bootstrap_servers(make_kafka, warehouse):
    unreachable = make_kafka(bootstrap_servers="127.0.0.1:1")
    with pytest.raises(KafkaUnavailableError, match=r"127\.0\.0\.1:1") as error:
        tick(unreachable, warehouse)
    assert "KAFKA_BOOTSTRAP_SERVERS" in str(error.value)


def test_a_queued_ingest_run_holds_new_requests_until_it_starts(
    topics, produce, make_kafka, warehouse, dagster_instance
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 3, partition=0)
    first = tick(make_kafka(), warehouse, instance=dagster_instance)
    [request] = first.run_requests
    queued = add_run_of(dagster_instance, request, dg.DagsterRunStatus.NOT_STARTED)
    produce(clickstream, [b"m"] * 2, partition=1)

    held = tick(make_kafka(), warehouse, first.cursor, instance=dagster_instance)
    assert isinstance(held, dg.SkipReason) and queued.run_id in held.skip_message

    dagster_instance.handle_run_event(
        queued.run_id,
        dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_START.value, job_name=request.job_name
        ),
    )
    try:
        after = tick(make_kafka(), warehouse, first.cursor, instance=dagster_instance)
        assert [ranges_of(r) for r in after.run_requests] == [[(1, 0, 2)]]
    finally:  # a STARTED run no worker will finish must not stay in the shared instance
        dagster_instance.delete_run(queued.run_id)


def test_a_range_no_run_stored_is_requested_again_without_new_traffic(
    topics, produce, make_kafka, warehouse
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 3, partition=0)
    instance = dg.DagsterInstance.ephemeral()  # no run of the first request ever succeeds
    first = tick(make_kafka(), warehouse, instance=instance)
    [original] = first.run_requests

    again = tick(make_kafka(), warehouse, first.cursor, instance=instance)

    [request] = again.run_requests
    assert ranges_of(request) == [(0, 0, 3)]
    assert request.run_key == original.run_key + "~e1", "a new key, or Dagster drops it"
    # Not again at once: repeated requests back off.
    held = tick(make_kafka(), warehouse, again.cursor, instance=instance)
    assert "no new messages" in skip_message(held)

    commit_group(make_kafka(), clickstream, {0: 3})  # a run stored them
    caught_up = tick(make_kafka(), warehouse, again.cursor, instance=instance)
    assert "no new messages" in skip_message(caught_up)
    assert "~state" in json.loads(caught_up.cursor)  # the epoch stays, the back-off resets
    assert json.loads(caught_up.cursor)["~state"]["refills"] == 0


def test_a_range_stored_by_its_run_is_not_requested_again(topics, produce, make_kafka, warehouse):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 3, partition=1)
    first = tick(make_kafka(), warehouse)
    commit_group(make_kafka(), clickstream, {1: 3})
    assert "no new messages" in skip_message(tick(make_kafka(), warehouse, first.cursor))


def test_no_range_is_requested_again_while_an_ingest_run_is_in_flight(
    topics, produce, make_kafka, warehouse
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 3, partition=0)
    instance = dg.DagsterInstance.ephemeral()
    first = tick(make_kafka(), warehouse, instance=instance)
    [request] = first.run_requests
    run = add_run_of(instance, request, dg.DagsterRunStatus.STARTED)
    assert "no new messages" in skip_message(
        tick(make_kafka(), warehouse, first.cursor, instance=instance)
    )

    instance.report_run_failed(run)
    [again] = tick(make_kafka(), warehouse, first.cursor, instance=instance).run_requests
    assert ranges_of(again) == [(0, 0, 3)]


def test_a_run_reads_the_topics_it_was_planned_on_and_gets_a_live_tail(
    topics, produce, make_kafka, warehouse
):
    clickstream, backend = topics
    produce(backend, [b"m"] * 2, partition=0)
    [request] = tick(make_kafka(live_seconds=90, live_idle_seconds=7), warehouse).run_requests
    ops = request.run_config["ops"]
    assert ops["raw_backend_events"]["config"]["topic"] == backend
    assert ops["alerts"]["config"] == {
        "live_seconds": 90,
        "live_idle_seconds": 7,
        "live_topics": {"backend": backend, "clickstream": clickstream},
    }
    [plain] = tick(make_kafka(live_seconds=0), warehouse).run_requests
    assert "alerts" not in plain.run_config["ops"], "ANALYTICS_INGEST_LIVE_SECONDS=0: no tail"


def test_no_run_is_planned_while_a_live_run_takes_the_messages_until_its_handoff(
    topics, produce, make_kafka, warehouse
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 3, partition=0)
    instance = dg.DagsterInstance.ephemeral()
    first = tick(make_kafka(), warehouse, instance=instance)
    [request] = first.run_requests
    live_until = time.time() + 60
    run = add_run_of(
        instance, request, dg.DagsterRunStatus.STARTED, **{LIVE_UNTIL_TAG: f"{live_until:.0f}"}
    )
    produce(clickstream, [b"m"] * 2, partition=0)
    held = tick(make_kafka(), warehouse, first.cursor, instance=instance)
    assert "live until" in skip_message(held)

    # The live run took offsets 3-4 too (its commits say so), and is about to end: the next
    # run is planned now, for nothing the live run already took.
    commit_group(make_kafka(), clickstream, {0: 5})
    instance.add_run_tags(run.run_id, {LIVE_UNTIL_TAG: f"{time.time() + HANDOFF_S - 5:.0f}"})
    produce(clickstream, [b"m"] * 1, partition=0)
    [successor] = tick(make_kafka(), warehouse, first.cursor, instance=instance).run_requests
    assert ranges_of(successor) == [(0, 5, 6)]


def test_the_cursor_follows_ranges_a_live_tail_took_beyond_its_plan(
    topics, produce, make_kafka, warehouse
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 3, partition=0)
    first = tick(make_kafka(), warehouse)
    produce(clickstream, [b"m"] * 4, partition=0)
    commit_group(make_kafka(), clickstream, {0: 7})  # its run's live tail stored them all
    after = tick(make_kafka(), warehouse, first.cursor)
    assert "no new messages" in skip_message(after)
    assert json.loads(after.cursor)[clickstream]["0"] == 7


def test_a_recreated_topic_is_reported_and_ingested_from_its_start(
    topics, produce, make_kafka, warehouse
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 2, partition=0)
    cursor = json.dumps({clickstream: {"0": 10}})  # the old topic had reached offset 10
    result = tick(make_kafka(), warehouse, cursor)

    [request] = result.run_requests
    assert ranges_of(request) == [(0, 0, 2)]
    assert request.run_key.endswith("~e1")
    assert json.loads(result.cursor)[clickstream] == {"0": 2, "1": 0}


def test_a_recreated_empty_topic_moves_the_cursor_back_and_says_so(topics, make_kafka, warehouse):
    clickstream, _ = topics
    cursor = json.dumps({clickstream: {"0": 10}})
    result = tick(make_kafka(), warehouse, cursor)
    assert "partition 0 was reset (offset 10 -> 0)" in skip_message(result)
    assert json.loads(result.cursor)[clickstream] == {"0": 0}
    assert "was reset" not in skip_message(tick(make_kafka(), warehouse, result.cursor))


def test_a_missing_topic_fails_the_tick_naming_the_topic_and_its_variable(
    topics, kafka_bootstrap, warehouse
):
    _, backend = topics
    kafka = KafkaResource(
        bootstrap_servers=kafka_bootstrap,
        clickstream_topic="portal-clikcstream-misspelled",
        backend_topic=backend,
        sensor_wait_seconds=0,
    )
    with pytest.raises(MissingTopicError) as error:
        tick(kafka, warehouse)
    message = str(error.value)
    assert "'portal-clikcstream-misspelled' does not exist" in message
    assert "ANALYTICS_CLICKSTREAM_TOPIC" in message


def test_a_missing_topic_does_not_hold_back_the_other_topic(
    topics, produce, kafka_bootstrap, warehouse
):
    _, backend = topics
    produce(backend, [b"m"] * 2, partition=0)
    kafka = KafkaResource(
        bootstrap_servers=kafka_bootstrap,
        clickstream_topic="t-missing-x",
        backend_topic=backend,
        sensor_wait_seconds=0,
    )
    [request] = tick(kafka, warehouse).run_requests
    assert request.job_name == "ingest_backend"
    assert ranges_of(request, "backend") == [(0, 0, 2)]


def test_the_long_poll_ends_just_before_a_daemon_pass():
    assert long_poll_deadline(100.0, 45) == 100.0 + 45 - 1.0
    assert long_poll_deadline(100.0, 12) == 100.0 + 10 - 1.0  # whole 5 s passes only
    assert long_poll_deadline(100.0, 4) == 100.0  # shorter than a pass: one look
    assert long_poll_deadline(100.0, 0) == 100.0


def test_ends_moved_sees_new_messages_resets_and_new_partitions():
    cursor = {"t": {0: 5, 1: 2}}
    assert not ends_moved({"t": {0: 5, 1: 2}}, cursor)
    assert ends_moved({"t": {0: 6, 1: 2}}, cursor)
    assert ends_moved({"t": {0: 0, 1: 2}}, cursor)  # recreated
    assert ends_moved({"t": {0: 5, 1: 2, 2: 1}}, cursor)
    assert not ends_moved({"t": {0: 5, 1: 2, 2: 0}}, cursor)  # a new, empty partition


def test_a_waiting_tick_returns_as_soon_as_a_message_lands(topics, produce, make_kafka, warehouse):
    clickstream, _ = topics
    produce(clickstream, [b"m"], partition=0)
    cursor = tick(make_kafka(), warehouse).cursor
    commit_group(make_kafka(), clickstream, {0: 1})  # its run stored it
    landed = threading.Timer(1.0, lambda: produce(clickstream, [b"m", b"m"], partition=1))
    started = time.monotonic()  # before the timer starts: it lands 1 s after this at the earliest
    landed.start()
    result = tick(make_kafka(sensor_wait_seconds=20), warehouse, cursor=cursor)
    elapsed = time.monotonic() - started
    landed.join()

    assert [ranges_of(r) for r in result.run_requests] == [[(1, 0, 2)]]
    assert 1.0 <= elapsed < 10, f"returned after {elapsed:.1f} s, the wait ends at 19 s"


def test_a_quiet_waiting_tick_gives_up_at_its_deadline(topics, produce, make_kafka, warehouse):
    clickstream, _ = topics
    produce(clickstream, [b"m"], partition=0)
    cursor = tick(make_kafka(), warehouse).cursor
    commit_group(make_kafka(), clickstream, {0: 1})  # its run stored it
    started = time.monotonic()
    result = tick(make_kafka(sensor_wait_seconds=5), warehouse, cursor=cursor)
    elapsed = time.monotonic() - started

    assert "no new messages" in skip_message(result)
    assert 4.0 - 0.2 <= elapsed < 15, f"gave up after {elapsed:.1f} s, not at the 4 s deadline"
