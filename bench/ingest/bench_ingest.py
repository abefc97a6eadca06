"""Ingest throughput: bare kafka-python vs bare confluent-kafka vs our ingest path.

Usage: .venv/bin/python bench/ingest/bench_ingest.py [--events 1000000] [--repeats 3]

Produces simulator traffic once into two bench topics (reused on later runs), then measures,
interleaved and repeated, over exactly the same offsets:
  (a) kafka-python: poll + json.loads every message
  (b) confluent-kafka: consume + json.loads every message
  (c) analytics_pipeline: validation, de-duplication, dead letters, ledger, DuckDB writes,
      in runs of at most 50,000 messages as the sensor plans them
Each measurement runs in its own process so its peak RSS is its own. Results go to
bench/ingest/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
PARTITIONS = 3
MAX_BATCH = 50_000


def topic_names(events: int) -> tuple[str, str]:
    return (f"bench-ingest-{events}-clickstream", f"bench-ingest-{events}-backend")


def end_offsets(topic: str) -> dict[int, int]:
    from analytics_pipeline.resources.kafka import KafkaResource

    return KafkaResource(bootstrap_servers=BOOTSTRAP).end_offsets(topic)


def total(topics: tuple[str, str]) -> int:
    return sum(sum(end_offsets(t).values()) for t in topics)


def prepare(events: int) -> tuple[str, str]:
    """Fill the bench topics with at least `events` simulator messages (once)."""
    from kafka.admin import KafkaAdminClient, NewTopic

    topics = topic_names(events)
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, PARTITIONS, 1) for t in topics if t not in existing]
        if missing:
            admin.create_topics(missing)
    finally:
        admin.close()
    have = total(topics)
    if have >= events:
        print(f"reusing {have:,} events in {topics}", file=sys.stderr)
        return topics
    users = 1000
    while have < events:
        print(f"producing simulator traffic for {users} users ...", file=sys.stderr)
        started = time.perf_counter()
        subprocess.run(
            [
                str(REPO / ".venv/bin/analytics-pipeline"),
                "simulate",
                "--users",
                str(users),
                "--days",
                "30",
                "--seed",
                str(users),
                "--bootstrap-servers",
                BOOTSTRAP,
                "--clickstream-topic",
                topics[0],
                "--backend-topic",
                topics[1],
            ],
            check=True,
        )
        produced = total(topics) - have
        have += produced
        print(f"  {produced:,} events in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        users = max(1000, int(users * (events - have) / max(produced, 1)) + 500)
    return topics


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_kafka_python(topics: tuple[str, str]) -> int:
    from kafka import KafkaConsumer, TopicPartition

    from analytics_pipeline.resources.kafka import KafkaResource

    # Same client settings as our ingest consumer, so (c)/(a) is the cost of our processing.
    consumer = KafkaConsumer(
        **KafkaResource(bootstrap_servers=BOOTSTRAP).client_config(), enable_auto_commit=False
    )
    count = 0
    for topic in topics:
        ends = end_offsets(topic)
        tps = [TopicPartition(topic, p) for p in ends]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        remaining = {tp: ends[tp.partition] for tp in tps}
        while any(consumer.position(tp) < end for tp, end in remaining.items()):
            for batch in consumer.poll(timeout_ms=500, max_records=MAX_BATCH).values():
                for message in batch:
                    json.loads(message.value)
                    count += 1
    consumer.close()
    return count


def measure_confluent(topics: tuple[str, str]) -> int:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": "bench-confluent",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    count = 0
    for topic in topics:
        ends = end_offsets(topic)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        done: set[int] = {p for p, end in ends.items() if end == 0}
        while len(done) < len(ends):
            for message in consumer.consume(num_messages=10_000, timeout=0.5):
                if message.error():
                    if message.error().code() == -191:  # _PARTITION_EOF
                        done.add(message.partition())
                    continue
                json.loads(message.value())
                count += 1
    consumer.close()
    return count


def measure_ours(topics: tuple[str, str]) -> int:
    from analytics_pipeline.ingest.loop import ingest_ranges
    from analytics_pipeline.ingest.ranges import plan_topic_runs
    from analytics_pipeline.resources.kafka import KafkaResource
    from analytics_pipeline.warehouse import connect

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from scratch_lake import scratch_lake

    kafka = KafkaResource(bootstrap_servers=BOOTSTRAP, max_batch=MAX_BATCH)
    with scratch_lake("bench_ingest") as lake:
        conn = connect(lake)
        count = 0
        for kind, topic in zip(("clickstream", "backend"), topics, strict=True):
            runs = plan_topic_runs({}, {topic: end_offsets(topic)}, MAX_BATCH)
            for ranges in (run[topic] for run in runs):
                consumer = kafka.consumer(group_id=None)  # bench: no group commits
                try:
                    report = ingest_ranges(
                        consumer,
                        conn,
                        kind=kind,
                        topic=topic,
                        ranges=ranges,
                        max_batch=MAX_BATCH,
                        commit_offsets=False,
                    )
                finally:
                    consumer.close()
                count += report.received
        conn.close()
    return count


MEASURES = {
    "kafka-python": measure_kafka_python,
    "confluent-kafka": measure_confluent,
    "analytics_pipeline": measure_ours,
}


def child(name: str, events: int) -> None:
    topics = topic_names(events)
    started = time.perf_counter()
    count = MEASURES[name](topics)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {"name": name, "events": count, "seconds": seconds, "peak_rss_mib": peak_rss_mib()}
        )
    )


def run_child(name: str, events: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, "--events", str(events)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=MEASURES)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.events)
        return
    topics = prepare(args.events)
    results: dict[str, list[dict]] = {name: [] for name in MEASURES}
    for round_ in range(args.repeats):
        for name in MEASURES:
            result = run_child(name, args.events)
            results[name].append(result)
            rate = result["events"] / result["seconds"]
            print(
                f"round {round_ + 1} {name}: {result['events']:,} events, {rate:,.0f}/s, "
                f"peak RSS {result['peak_rss_mib']:.0f} MiB",
                file=sys.stderr,
            )
    write_results(args, topics, results)


def write_results(args, topics, results: dict[str, list[dict]]) -> None:
    rate = {
        n: statistics.median(r["events"] / r["seconds"] for r in rs) for n, rs in results.items()
    }
    rss = {n: statistics.median(r["peak_rss_mib"] for r in rs) for n, rs in results.items()}
    events = results["analytics_pipeline"][0]["events"]
    ours = rate["analytics_pipeline"]
    lines = [
        "# Ingest benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores), {events:,} simulator events in {topics[0]} + {topics[1]} "
        f"({PARTITIONS} partitions each), median of {args.repeats} interleaved rounds, each "
        "measurement in its own process.",
        "",
        "| path | events/s (median) | peak RSS (MiB) |",
        "|---|---:|---:|",
        *(f"| {n} | {rate[n]:,.0f} | {rss[n]:.0f} |" for n in MEASURES),
        "",
        f"- c/a (ours vs bare kafka-python): **{ours / rate['kafka-python']:.2f}** (target ≥ 0.8)",
        f"- c/b (ours vs bare confluent-kafka): **{ours / rate['confluent-kafka']:.2f}**",
        f"- peak RSS of our path with {MAX_BATCH:,}-message batches: "
        f"**{rss['analytics_pipeline']:.0f} MiB** (target ≤ 500 MiB)",
        "",
        "Every round:",
        "",
        "| path | events | seconds | events/s | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {n} | {r['events']:,} | {r['seconds']:.2f} | {r['events'] / r['seconds']:,.0f} | "
            f"{r['peak_rss_mib']:.0f} |"
            for n, rs in results.items()
            for r in rs
        ),
        "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
