"""Ingest sensors: ranges from end offsets only, bounded, never touching DuckDB."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id

from analytics_pipeline.defs import ingest
from analytics_pipeline.resources.kafka import KafkaResource, KafkaUnavailableError
from analytics_pipeline.resources.warehouse import WarehouseResource


def sensor(name: str) -> dg.SensorDefinition:
    return getattr(ingest, name)


def tick(
    sensor_def, kafka: KafkaResource, warehouse: WarehouseResource, cursor=None, instance=None
):
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"kafka": kafka, "warehouse": warehouse},
        instance=instance or dg.DagsterInstance.ephemeral(),
    )
    return sensor_def(context)


def ranges_of(request: dg.RunRequest) -> list[tuple[int, int, int]]:
    ops = request.run_config["ops"]
    [(_op_name, config)] = ops.items()
    return [(r["partition"], r["start"], r["end"]) for r in config["config"]["ranges"]]


def test_empty_topic_skips_without_a_run(make_kafka, warehouse):
    result = tick(sensor("clickstream_ingest_sensor"), make_kafka(), warehouse)
    assert isinstance(result, dg.SkipReason)


def test_new_messages_give_one_bounded_run_per_range_and_advance_the_cursor(
    topics, produce, make_kafka, warehouse, warehouse_path
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 7, partition=0)
    produce(clickstream, [b"m"] * 5, partition=1)
    result = tick(sensor("clickstream_ingest_sensor"), make_kafka(max_batch=5), warehouse)

    assert [ranges_of(r) for r in result.run_requests] == [
        [(0, 0, 5)],
        [(0, 5, 7), (1, 0, 3)],
        [(1, 3, 5)],
    ]
    assert all(r.run_key.startswith(f"{clickstream}|") for r in result.run_requests)
    assert json.loads(result.cursor) == {clickstream: {"0": 7, "1": 5}}
    assert not warehouse_path.exists(), "the sensor must never open the warehouse"


def test_ranges_start_from_the_cursor_and_pick_up_a_new_partition(
    topics, produce, make_kafka, warehouse, kafka_bootstrap
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 4, partition=0)
    produce(clickstream, [b"m"] * 2, partition=1)
    cursor = json.dumps({clickstream: {"0": 3}})
    result = tick(sensor("clickstream_ingest_sensor"), make_kafka(), warehouse, cursor)
    assert [ranges_of(r) for r in result.run_requests] == [[(0, 3, 4), (1, 0, 2)]]


def test_same_ranges_give_the_same_run_key(topics, produce, make_kafka, warehouse):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 3, partition=0)
    first = tick(sensor("clickstream_ingest_sensor"), make_kafka(), warehouse)
    second = tick(sensor("clickstream_ingest_sensor"), make_kafka(), warehouse)
    assert [r.run_key for r in first.run_requests] == [r.run_key for r in second.run_requests]


def test_backend_sensor_watches_the_backend_topic(topics, produce, make_kafka, warehouse):
    _, backend = topics
    produce(backend, [b"m"] * 2, partition=1)
    result = tick(sensor("backend_ingest_sensor"), make_kafka(), warehouse)
    [request] = result.run_requests
    assert "raw_backend_events" in request.run_config["ops"]
    assert ranges_of(request) == [(1, 0, 2)]


def test_unreachable_kafka_fails_the_tick_naming_the_bootstrap_servers(make_kafka, warehouse):
    unreachable = make_kafka(bootstrap_servers="127.0.0.1:1")
    with pytest.raises(KafkaUnavailableError, match=r"127\.0\.0\.1:1") as error:
        tick(sensor("clickstream_ingest_sensor"), unreachable, warehouse)
    assert "KAFKA_BOOTSTRAP_SERVERS" in str(error.value)


def test_a_run_still_queued_for_the_topic_holds_new_requests_until_it_starts(
    topics, produce, make_kafka, warehouse, dagster_instance
):
    clickstream, _ = topics
    produce(clickstream, [b"m"] * 3, partition=0)
    sensor_def = sensor("clickstream_ingest_sensor")
    first = tick(sensor_def, make_kafka(), warehouse, instance=dagster_instance)
    [request] = first.run_requests
    queued = dagster_instance.add_run(
        dg.DagsterRun(
            job_name="ingest_clickstream",
            run_id=make_new_run_id(),
            status=dg.DagsterRunStatus.NOT_STARTED,
            tags=request.tags,
        )
    )
    produce(clickstream, [b"m"] * 2, partition=1)

    held = tick(sensor_def, make_kafka(), warehouse, first.cursor, instance=dagster_instance)
    assert isinstance(held, dg.SkipReason) and queued.run_id in held.skip_message

    dagster_instance.handle_run_event(
        queued.run_id,
        dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_START.value, job_name="ingest_clickstream"
        ),
    )
    after = tick(sensor_def, make_kafka(), warehouse, first.cursor, instance=dagster_instance)
    assert [ranges_of(r) for r in after.run_requests] == [[(1, 0, 2)]]
