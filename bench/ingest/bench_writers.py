"""Ingest throughput with 1, 2 and 3 writers side by side over 6 partitions per topic.

Usage: .venv/bin/python bench/ingest/bench_writers.py [--events 120000] [--repeats 2]

Fills two fresh 6-partition topics once (clickstream and backend events, half each), then per
writer count N, repeated: a fresh lake (bench/scratch_lake.py), and N processes at once, writer
k ingesting partitions p with p % N == k of both topics through `ingest_ranges` (what a raw-
ingest run does, ANALYTICS_INGEST_WRITERS=N). Measures the wall time from the start of the
writers to the last commit, the CPU-seconds of all writers (bench/cpu_meter.py, a cgroup;
falls back to the children's rusage) and the commit conflicts retried. Results go to
bench/ingest/WRITERS.md.
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
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

PARTITIONS = 6
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def delete_topics(topics: tuple[str, str]) -> None:
    """The bench's own two topics go when it ends (they hold `--events` messages each run)."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        admin.delete_topics(list(topics))
    finally:
        admin.close()


def fill_topics(events: int) -> tuple[str, str]:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    tag = uuid.uuid4().hex[:6]
    names = (f"bench-writers-clickstream-{tag}", f"bench-writers-backend-{tag}")
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=20)
    start = datetime.now(UTC) - timedelta(days=1)
    for i in range(events // 2):
        ts = (start + timedelta(seconds=i)).isoformat()
        user = f"u{i % 5000}"
        click = {
            "event_id": f"c{i}",
            "type": "page_view",
            "ts": ts,
            "anonymous_id": f"a{i % 7000}",
            "user_id": user if i % 3 else None,
            "page_url": f"https://portal/p/{i % 50}",
            "session_id": f"s{i % 9000}",
        }
        back = {
            "event_id": f"b{i}",
            "type": "api_request",
            "ts": ts,
            "user_id": user,
            "request": {
                "method": "POST",
                "path": "/projects/p1/runs",
                "status": 200,
                "duration_ms": 12.5,
            },
        }
        producer.send(names[0], json.dumps(click).encode(), partition=i % PARTITIONS)
        producer.send(names[1], json.dumps(back).encode(), partition=i % PARTITIONS)
    producer.flush()
    producer.close()
    return names


def worker(args: argparse.Namespace) -> None:
    """One writer: its partitions of both topics, as a raw-ingest run ingests them."""
    from analytics_pipeline.defs.ingest.writers import writer_of
    from analytics_pipeline.ingest.loop import ingest_ranges
    from analytics_pipeline.ingest.ranges import OffsetRange
    from analytics_pipeline.resources.kafka import KafkaResource
    from analytics_pipeline.warehouse import Lake, connect

    lake = Lake(**json.loads(args.lake))
    kafka = KafkaResource(bootstrap_servers=BOOTSTRAP)
    conn = connect(lake)
    stored = conflicts = 0
    for kind, topic in zip(("clickstream", "backend"), args.topics.split(","), strict=True):
        consumer = kafka.consumer()
        ends = kafka.end_offsets(topic, consumer)
        ranges = [
            OffsetRange(p, 0, e)
            for p, e in sorted(ends.items())
            if writer_of(p, args.writers) == args.worker
        ]
        report = ingest_ranges(
            consumer,
            conn,
            kind=kind,
            topic=topic,
            ranges=ranges,
            max_batch=50_000,
            commit_offsets=False,
        )
        consumer.close()
        stored, conflicts = stored + report.stored, conflicts + report.conflicts_retried
    print(json.dumps({"stored": stored, "conflicts": conflicts}))


def measure(writers: int, topics: tuple[str, str], events: int) -> dict:
    from cpu_meter import CpuMeter
    from scratch_lake import scratch_lake

    from analytics_pipeline.warehouse import connect

    with scratch_lake("bench_writers") as lake:
        connect(lake).close()  # the schema, before the clock starts
        spec = json.dumps(
            {"catalog": lake.catalog, "data_path": lake.data_path, "password": lake.password}
        )
        meter = CpuMeter("writers") if CpuMeter.available() else None
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    str(k),
                    "--writers",
                    str(writers),
                    "--lake",
                    spec,
                    "--topics",
                    ",".join(topics),
                ],
                stdout=subprocess.PIPE,
                text=True,
                preexec_fn=meter.enter if meter else None,
            )
            for k in range(writers)
        ]
        outputs = [
            json.loads(p.communicate(timeout=1800)[0].strip().splitlines()[-1]) for p in procs
        ]
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (
            meter.seconds()
            if meter
            else (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        )
        if meter:
            meter.close()
    stored = sum(o["stored"] for o in outputs)
    assert stored == events, (stored, events)
    return {
        "writers": writers,
        "wall_s": wall,
        "cpu_s": cpu,
        "events_per_s": events / wall,
        "cpu_per_wall": cpu / wall,
        "conflicts": sum(o["conflicts"] for o in outputs),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", type=int)
    parser.add_argument("--writers", type=int)
    parser.add_argument("--lake")
    parser.add_argument("--topics")
    args = parser.parse_args()
    if args.worker is not None:
        worker(args)
        return
    topics = fill_topics(args.events)
    results: dict[int, list[dict]] = {1: [], 2: [], 3: []}
    try:
        for _ in range(args.repeats):
            for n in results:  # interleaved, so load on the machine spreads over all of them
                results[n].append(measure(n, topics, args.events))
                print(results[n][-1], flush=True)
    finally:
        delete_topics(topics)
    lines = [
        "# Ingest writers side by side: 1, 2 and 3 writers over 6 partitions per topic",
        "",
        f"`bench/ingest/bench_writers.py --events {args.events} --repeats {args.repeats}`, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}), shared with other work. Local data "
        "folder, PostgreSQL catalog. Median of the repeats.",
        "",
        "| writers | wall (s) | events/s | CPU-s (all writers) | cores busy | conflicts retried |",
        "|---|---|---|---|---|---|",
    ]
    for n, runs in results.items():

        def med(key: str, runs: list[dict] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        lines.append(
            f"| {n} | {med('wall_s'):.1f} | {med('events_per_s'):,.0f} | {med('cpu_s'):.1f} | "
            f"{med('cpu_per_wall'):.2f} | {sum(r['conflicts'] for r in runs)} |"
        )
    (HERE / "WRITERS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
