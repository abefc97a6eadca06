"""Exactly-once ingestion from a real Kafka broker into a real DuckDB file."""

from __future__ import annotations

import json

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from analytics_pipeline.ingest.loop import StalledPartitionError, ingest_ranges
from analytics_pipeline.ingest.ranges import OffsetRange
from analytics_pipeline.resources.kafka import CONSUMER_GROUP
from analytics_pipeline.warehouse import connect

TS = "2026-11-20T10:00:00.250Z"


@pytest.fixture
def lake(migrated_lake):
    """Each test's lake starts at this release's schema version (a clone, fixtures/warehouse.py);
    the first run migrating an empty lake is proven in migrations/ and the daemon tests."""
    return migrated_lake


def page_view(event_id: str, **fields) -> dict:
    return {
        "event_id": event_id,
        "type": "page_view",
        "ts": TS,
        "anonymous_id": "anon-1",
        "page_url": "/home",
        "session_id": "s-1",
        **fields,
    }


def signup(event_id: str, user_id: str = "user-1") -> dict:
    return {
        "event_id": event_id,
        "type": "api_request",
        "ts": TS,
        "user_id": user_id,
        "request": {"method": "POST", "path": "/auth/signup", "status": 201, "duration_ms": 31.5},
    }


def produce_oversized(bootstrap: str, topic: str, value: bytes, partition: int) -> None:
    """A value over 1 MiB only reaches consumers where the topic allows it: raise the limit."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(4 << 20)}
        )
        admin.alter_configs([resource])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 << 20)
    try:
        producer.send(topic, value, partition=partition).get(timeout=30)
    finally:
        producer.close()


def rows(lake, sql: str, params=None) -> list[tuple]:
    conn = connect(lake)
    try:
        return conn.execute(sql, params or {}).fetchall()
    finally:
        conn.close()


def test_every_valid_type_is_stored_and_every_invalid_kind_dead_lettered(
    topics, produce, ingest, lake, kafka_bootstrap
):
    clickstream, backend = topics
    click_values = [
        page_view("c1", viewport={"width": 1, "height": 2}),
        b"\xff\xfe not utf-8",
        {**page_view("c2"), "type": "click", "element": "button#deploy"},
        b"{not json",
        {**page_view("c3"), "type": "visibility_change", "visible": True},
        b"[1, 2, 3]",
        {
            "event_id": "c4",
            "type": "resize",
            "ts": TS,
            "anonymous_id": "a",
            "viewport": {"width": 3, "height": 4},
        },
        {k: v for k, v in page_view("c5").items() if k != "page_url"},
        {
            "event_id": "c6",
            "type": "identify",
            "ts": TS,
            "anonymous_id": "anon-1",
            "user_id": "user-1",
        },
        page_view("c7", type="scroll"),
        page_view("c8", ts="2026-11-20T10:00:00"),
        page_view("c9", ts="2999-01-01T00:00:00Z"),
        "OVERSIZED",
        b"",
        page_view("c10", anonymous_id=17),
        page_view("c11", extra_field={"kept": "in payload"}),
    ]
    big = click_values.index("OVERSIZED")
    produce(clickstream, click_values[:big], partition=0)
    produce_oversized(kafka_bootstrap, clickstream, b"x" * (1024 * 1024 + 1), partition=0)
    produce(clickstream, click_values[big + 1 :], partition=0)
    backend_values = [
        signup("b1"),
        {
            "event_id": "b2",
            "type": "deployment",
            "ts": TS,
            "user_id": "user-1",
            "deployment": {"deployment_id": "d-1", "status": "failed", "error_message": "OOM"},
        },
        {
            **signup("b3"),
            "request": {"method": "GET", "path": "/x", "status": 503, "duration_ms": 2},
            "error": {"code": "E503", "message": "unavailable"},
        },
    ]
    produce(backend, backend_values, partition=1)

    click_meta = ingest("clickstream")
    backend_meta = ingest("backend")

    assert rows(
        lake,
        "SELECT event_id, type, kafka_partition, kafka_offset, anonymous_id, "
        "user_id, session_id, page_url FROM raw_clickstream_events ORDER BY kafka_offset",
    ) == [
        ("c1", "page_view", 0, 0, "anon-1", None, "s-1", "/home"),
        ("c2", "click", 0, 2, "anon-1", None, "s-1", "/home"),
        ("c3", "visibility_change", 0, 4, "anon-1", None, "s-1", "/home"),
        ("c4", "resize", 0, 6, "a", None, None, None),
        ("c6", "identify", 0, 8, "anon-1", "user-1", None, None),
        ("c11", "page_view", 0, 15, "anon-1", None, "s-1", "/home"),
    ]
    assert rows(
        lake,
        "SELECT kafka_offset, reason FROM dead_letter_events "
        "WHERE topic = $t ORDER BY kafka_offset",
        {"t": clickstream},
    ) == [
        (1, "not_utf8"),
        (3, "not_json"),
        (5, "not_object"),
        (7, "missing_field"),
        (9, "unknown_type"),
        (10, "ts_without_offset"),
        (11, "ts_in_future"),
        (12, "too_large"),
        (13, "empty_value"),
        (14, "invalid_field"),
    ]
    raw_values = rows(
        lake,
        "SELECT kafka_offset, raw_value FROM dead_letter_events "
        "WHERE topic = $t AND kafka_offset IN (1, 3)",
        {"t": clickstream},
    )
    assert dict(raw_values) == {1: b"\xff\xfe not utf-8", 3: b"{not json"}
    [(payload,)] = rows(lake, "SELECT payload FROM raw_clickstream_events WHERE event_id = 'c11'")
    assert json.loads(payload)["extra_field"] == {"kept": "in payload"}
    assert rows(
        lake,
        "SELECT event_id, user_id, method, path, status, duration_ms, error_code, "
        "error_message, deployment_id, deployment_status FROM raw_backend_events ORDER BY event_id",
    ) == [
        ("b1", "user-1", "POST", "/auth/signup", 201, 31.5, None, None, None, None),
        ("b2", "user-1", None, None, None, None, None, "OOM", "d-1", "failed"),
        ("b3", "user-1", "GET", "/x", 503, 2.0, "E503", "unavailable", None, None),
    ]
    assert rows(
        lake,
        "SELECT topic, kafka_partition, next_offset FROM ingest_offsets ORDER BY ALL",
    ) == sorted(
        [
            (clickstream, 0, 16),
            (backend, 1, 3),
        ]
    )
    assert click_meta["rows_added"] == 6 and click_meta["dead_letters"] == 10
    assert "| not_json | 1 |" in click_meta["dead_letters_by_reason"]
    assert click_meta["remaining_lag"] == 0
    assert backend_meta["rows_added"] == 3


def test_replayed_offset_range_stores_nothing_twice(topics, produce, ingest, lake):
    clickstream, _ = topics
    produce(clickstream, [page_view(f"e{i}") for i in range(5)], partition=0)
    first = ingest("clickstream", [(0, 0, 5)])
    again = ingest("clickstream", [(0, 0, 5)])
    assert first["rows_added"] == 5
    assert again["rows_added"] == 0 and again["messages_read"] == 0
    assert rows(lake, "SELECT count(*) FROM raw_clickstream_events") == [(5,)]


def test_overlapping_ranges_store_each_message_once(topics, produce, ingest, lake):
    clickstream, _ = topics
    produce(clickstream, [page_view(f"e{i}") for i in range(10)], partition=1)
    ingest("clickstream", [(1, 0, 6)])
    overlap = ingest("clickstream", [(1, 3, 10)])
    assert overlap["rows_added"] == 4
    assert rows(
        lake,
        "SELECT list(kafka_offset ORDER BY kafka_offset) FROM raw_clickstream_events",
    ) == [(list(range(10)),)]


def test_duplicate_event_id_in_a_later_batch_is_stored_once_first_wins(
    topics, produce, ingest, lake
):
    clickstream, _ = topics
    produce(clickstream, [page_view("dup", page_url="/first"), page_view("x1")], partition=0)
    ingest("clickstream")
    produce(
        clickstream,
        [page_view("dup", page_url="/second"), page_view("dup", page_url="/third")],
        partition=0,
    )
    later = ingest("clickstream")
    assert later["rows_added"] == 0 and later["duplicates_skipped"] == 2
    assert rows(
        lake,
        "SELECT page_url, kafka_offset FROM raw_clickstream_events WHERE event_id = 'dup'",
    ) == [("/first", 0)]


def test_message_after_an_invalid_one_in_the_same_batch_is_ingested(topics, produce, ingest, lake):
    clickstream, _ = topics
    produce(clickstream, [b"garbage", page_view("after")], partition=0)
    ingest("clickstream")
    assert rows(lake, "SELECT event_id, kafka_offset FROM raw_clickstream_events") == [("after", 1)]


def test_failed_run_leaves_the_warehouse_unchanged_and_the_next_stores_once(
    topics, produce, ingest, lake
):
    clickstream, _ = topics
    produce(clickstream, [page_view(f"e{i}") for i in range(4)] + [b"bad"], partition=0)
    # Make the ledger write (the last statement of the batch transaction) fail for real: a
    # ledger without the column it writes.
    conn = connect(lake)
    conn.execute("ALTER TABLE ingest_offset_log RENAME TO ingest_offset_log_real")
    conn.execute(
        "CREATE TABLE ingest_offset_log (topic VARCHAR, kafka_partition INTEGER, "
        "next_offset BIGINT, updated_at TIMESTAMPTZ, seq BIGINT)"
    )
    conn.close()

    failed = ingest("clickstream", raise_on_error=False)

    assert not failed.success
    assert rows(lake, "SELECT count(*) FROM raw_clickstream_events") == [(0,)]
    assert rows(lake, "SELECT count(*) FROM dead_letter_events") == [(0,)]
    conn = connect(lake)
    conn.execute("DROP TABLE ingest_offset_log")
    conn.execute("ALTER TABLE ingest_offset_log_real RENAME TO ingest_offset_log")
    conn.close()

    retried = ingest("clickstream")
    assert retried["rows_added"] == 4 and retried["dead_letters"] == 1
    assert rows(lake, "SELECT count(*), count(DISTINCT event_id) FROM raw_clickstream_events") == [
        (4, 4)
    ]


def test_a_run_splits_its_range_into_bounded_transactions(topics, produce, ingest, lake):
    clickstream, _ = topics
    produce(clickstream, [page_view(f"e{i}") for i in range(25)], partition=0)
    meta = ingest("clickstream", max_batch=10)
    assert meta["transactions"] == 3 and meta["rows_added"] == 25
    assert rows(lake, "SELECT count(DISTINCT ingest_batch_id) FROM raw_clickstream_events") == [
        (3,)
    ]


def test_progress_is_committed_to_the_consumer_group(topics, produce, ingest, kafka_bootstrap):
    clickstream, _ = topics
    produce(clickstream, [page_view(f"e{i}") for i in range(3)], partition=1)
    ingest("clickstream")
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=CONSUMER_GROUP)
    try:
        assert consumer.committed(TopicPartition(clickstream, 1)) == 3
    finally:
        consumer.close()


def ingest_directly(kafka, lake, topic: str, ranges, part_size: int = 2, **options):
    """ingest_ranges with a real consumer and DuckDB file, outside Dagster (small parts)."""
    consumer = kafka.consumer()
    conn = connect(lake)
    try:
        return ingest_ranges(
            consumer,
            conn,
            kind="clickstream",
            topic=topic,
            ranges=ranges,
            part_size=part_size,
            **options,
        )
    finally:
        conn.close()
        consumer.close()


def test_a_batch_validated_in_parts_is_one_transaction_and_first_event_id_wins(
    topics, produce, kafka, lake
):
    clickstream, _ = topics
    values = [page_view(f"e{i}", page_url=f"/p{i}") for i in range(9)]
    values[2] = b"not json"
    values[7] = page_view("e1", page_url="/again")  # same event_id as offset 1, a later part
    produce(clickstream, values, partition=0)

    report = ingest_directly(kafka, lake, clickstream, [OffsetRange(0, 0, 9)], max_batch=9)

    assert (report.batches, report.received, report.stored) == (1, 9, 7)
    assert (report.duplicates, dict(report.dead_letters)) == (1, {"not_json": 1})
    assert rows(
        lake,
        "SELECT count(DISTINCT ingest_batch_id), count(*) FROM raw_clickstream_events",
    ) == [(1, 7)]
    assert rows(lake, "SELECT page_url FROM raw_clickstream_events WHERE event_id = 'e1'") == [
        ("/p1",)
    ]
    assert rows(lake, "SELECT next_offset FROM ingest_offsets") == [(9,)]


def test_a_run_failing_after_some_parts_were_validated_writes_nothing(topics, produce, kafka, lake):
    clickstream, _ = topics
    produce(clickstream, [page_view(f"e{i}") for i in range(5)], partition=0)

    with pytest.raises(StalledPartitionError, match="partition 0 at 5 of 8"):
        # Offsets 5-7 never arrive: the run stops after validating parts of its batch.
        ingest_directly(
            kafka,
            lake,
            clickstream,
            [OffsetRange(0, 0, 8)],
            max_batch=8,
            stall_timeout_s=1,
        )

    assert rows(lake, "SELECT count(*) FROM raw_clickstream_events") == [(0,)]
    assert rows(lake, "SELECT count(*) FROM ingest_offsets") == [(0,)]
    report = ingest_directly(kafka, lake, clickstream, [OffsetRange(0, 0, 5)], max_batch=8)
    assert report.stored == 5
