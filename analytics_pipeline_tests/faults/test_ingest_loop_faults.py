"""The run loop under faults it can meet alone: a consumer-group commit that fails, a burst that
must be cut by bytes, a partition the ledger has never seen, a topic recreated under the ledger.
Real Kafka and a real lake; no Dagster."""

from __future__ import annotations

from analytics_pipeline.ingest.loop import ingest_ranges
from analytics_pipeline.ingest.ranges import OffsetRange
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.warehouse import connect
from analytics_pipeline_tests.faults.conftest import page_view


def run(kafka: KafkaResource, lake, topic: str, ranges, consumer=None, **options):
    consumer = consumer or kafka.consumer()
    conn = connect(lake)
    warnings: list[str] = []
    try:
        report = ingest_ranges(
            consumer,
            conn,
            kind="clickstream",
            topic=topic,
            ranges=ranges,
            max_batch=options.pop("max_batch", 50_000),
            warn=warnings.append,
            **options,
        )
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM raw_clickstream_events"
        ).fetchone()
        ledger = dict(
            conn.execute(
                "SELECT kafka_partition, next_offset FROM ingest_offsets WHERE topic = $t",
                {"t": topic},
            ).fetchall()
        )
    finally:
        conn.close()
        consumer.close()
    return report, rows, ledger, warnings


def test_a_failed_group_commit_is_a_warning_and_the_batch_stays_stored(
    make_topic, produce, kafka_bootstrap, lake
):
    topic = make_topic(1)
    produce(topic, [page_view(f"e{i}") for i in range(5)], partition=0)
    kafka = KafkaResource(bootstrap_servers=kafka_bootstrap, clickstream_topic=topic)
    no_group = kafka.consumer(group_id=None)  # Kafka refuses its commits

    report, rows, ledger, warnings = run(kafka, lake, topic, [OffsetRange(0, 0, 5)], no_group)

    assert rows == (5, 5) and ledger == {0: 5}
    assert report.group_commit_failures == 1
    assert any("the batch is stored, but committing" in w for w in warnings)


def test_a_burst_is_cut_into_transactions_by_bytes(make_topic, produce, kafka_bootstrap, lake):
    topic = make_topic(1)
    pad = "x" * 100_000
    produce(topic, [page_view(f"e{i}", pad=pad) for i in range(10)], partition=0)
    kafka = KafkaResource(bootstrap_servers=kafka_bootstrap, clickstream_topic=topic)

    report, rows, ledger, _ = run(
        kafka, lake, topic, [OffsetRange(0, 0, 10)], max_batch_bytes=250_000, part_bytes=120_000
    )

    assert rows == (10, 10) and ledger == {0: 10}
    assert report.batches == 4  # 3 + 3 + 3 + 1 messages of ~100 kB under a 250 kB bound


def test_a_partition_the_ledger_never_saw_starts_at_its_earliest_offset(
    make_topic, produce, kafka_bootstrap, lake
):
    topic = make_topic(1)
    produce(topic, [page_view(f"e{i}") for i in range(6)], partition=0)
    kafka = KafkaResource(bootstrap_servers=kafka_bootstrap, clickstream_topic=topic)

    # The run for 0-3 failed for good; the next one was asked for 3-6 only.
    report, rows, ledger, _ = run(kafka, lake, topic, [OffsetRange(0, 3, 6)])

    assert rows == (6, 6) and ledger == {0: 6}
    assert report.read == [OffsetRange(0, 0, 6)]


def test_a_ledger_ahead_of_a_recreated_topic_is_rewound_with_a_warning(
    make_topic, produce, kafka_bootstrap, lake
):
    topic = make_topic(1)
    kafka = KafkaResource(bootstrap_servers=kafka_bootstrap, clickstream_topic=topic)
    conn = connect(lake)
    conn.execute(  # what the old topic of that name had reached
        "INSERT INTO ingest_offset_log (topic, kafka_partition, next_offset, updated_at, seq) "
        "VALUES ($t, 0, 40, now(), 1)",
        {"t": topic},
    )
    conn.close()
    produce(topic, [page_view(f"new{i}") for i in range(3)], partition=0)

    report, rows, ledger, warnings = run(
        kafka, lake, topic, [OffsetRange(0, 0, 3)], topic_ends={0: 3}
    )

    assert rows == (3, 3) and ledger == {0: 3}
    assert report.rewound == {0: 40}
    assert any("below the ledger's 40: the topic was recreated" in w for w in warnings)
