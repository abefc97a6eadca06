"""The cost of publishing the journey stream: ingest throughput with the stream on against off
(issue 20).

Usage: .venv/bin/python bench/streams/bench_stream_cost.py [--events 10000]
           [--batches 1000,5000] [--rounds 3] [--broker-pid PID]

(The defaults take about 6 minutes on a busy 2-core machine.)

The same N simulator events (bench/ingest's topics for N, filled once by its `prepare`)
go through the live tail's path (defs/ingest/live.py) in micro-batches of B messages: each
micro-batch is ingested from Kafka into a fresh scratch lake (both raw topics, a proportional
slice of every partition), its journeys derived, and, with the stream on, published to a fresh
journey topic by the transactional publisher (one Kafka transaction per micro-batch), as the
live tail does before its alert rules. Off skips only the publish. Alert rules are left out:
they are the same on and off.

Each measurement runs in its own process, on and off interleaved (the order alternates by
round). Per round: wall seconds of the micro-batch loop (lake creation and the journey
topic's creation excluded; the publisher's `init_transactions` included, once per run as in a
live run), events/s, this process's CPU-seconds (every thread: DuckDB, kafka-python's sender),
and, with `--broker-pid`, the broker's CPU-seconds over the same interval (meaningful only on a
broker nothing else uses). Results: medians, the on/off ratios, every round, in RESULTS.md
beside this file (`--no-write-results` only prints).
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
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "ingest"))

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
JOURNEY_PARTITIONS = 3


def source_topics(events: int) -> tuple[str, str]:
    """bench/ingest's simulator topics for `events` (filled once by its `prepare`, reused)."""
    from bench_ingest import prepare  # bench/ingest/bench_ingest.py

    return prepare(events)


def slices(events: int, batch: int, topics: tuple[str, str]) -> list[dict[str, list]]:
    """Micro-batches over the first `events` messages: every (topic, partition) contributes a
    prefix proportional to its size, cut into `ceil(events / batch)` consecutive slices, so
    each micro-batch holds about `batch` messages from every partition (as a live tail sees)."""
    from analytics_pipeline.ingest.ranges import OffsetRange
    from analytics_pipeline.resources.kafka import KafkaResource

    kafka = KafkaResource(bootstrap_servers=BOOTSTRAP)
    ends = {topic: kafka.end_offsets(topic) for topic in topics}
    available = sum(sum(e.values()) for e in ends.values())
    if available < events:
        raise SystemExit(f"the source topics hold {available:,} events, fewer than {events:,}")
    prefix = {t: {p: end * events // available for p, end in e.items()} for t, e in ends.items()}
    steps = -(-events // batch)
    plan = []
    for k in range(steps):
        step: dict[str, list] = {}
        for topic, parts in prefix.items():
            for partition, end in sorted(parts.items()):
                lo, hi = end * k // steps, end * (k + 1) // steps
                if hi > lo:
                    step.setdefault(topic, []).append(OffsetRange(partition, lo, hi))
        plan.append(step)
    return plan


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def broker_cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    from cpu_meter import process_seconds  # bench/cpu_meter.py

    return process_seconds(pid)


def measure(stream: bool, events: int, batch: int, broker_pid: int | None) -> dict:
    """One run of the micro-batch loop on a fresh lake; the stream on or off."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from scratch_lake import scratch_lake  # bench/scratch_lake.py

    from analytics_pipeline.defs.ingest.live import LIVE_DUCKDB_THREADS
    from analytics_pipeline.defs.streams.journey import journey_publisher
    from analytics_pipeline.ingest.loop import ingest_ranges
    from analytics_pipeline.journeys.derive import update_journeys
    from analytics_pipeline.resources.kafka import KafkaResource
    from analytics_pipeline.warehouse import connect
    from analytics_pipeline.warehouse.partition_locks import PartitionLocks

    clickstream, backend = source_topics_names(events)
    journey_topic = f"bench-streamcost-{uuid.uuid4().hex[:8]}-journeys" if stream else None
    kafka = KafkaResource(
        bootstrap_servers=BOOTSTRAP,
        clickstream_topic=clickstream,
        backend_topic=backend,
        journey_topic=journey_topic,
    )
    plan = slices(events, batch, (clickstream, backend))
    kinds = {clickstream: "clickstream", backend: "backend"}
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, client_id="bench-stream-cost")
    try:
        if journey_topic:
            admin.create_topics(
                [NewTopic(journey_topic, JOURNEY_PARTITIONS, 1)], validate_only=False
            )
        with scratch_lake("bench_streamcost") as lake:
            conn = connect(lake)  # creates the lake's tables (not timed)
            locks = PartitionLocks.for_connection(conn)
            conn.execute(f"SET threads = {LIVE_DUCKDB_THREADS}")
            publisher = journey_publisher(kafka, conn) if journey_topic else None
            lake_read = [0.0]  # wall seconds of the publisher's lake reads (records to send)
            if publisher is not None:
                read_pending = publisher._read_pending  # timed, not changed

                def timed_read(after: int) -> object:
                    begin = time.perf_counter()
                    try:
                        return read_pending(after)
                    finally:
                        lake_read[0] += time.perf_counter() - begin

                publisher._read_pending = timed_read
            stored = records = transactions = 0
            publish_wall = publish_cpu = 0.0
            broker_before = broker_cpu_seconds(broker_pid)
            cpu_before, started = cpu_seconds(), time.perf_counter()
            for step in plan:
                for topic, ranges in step.items():
                    consumer = kafka.consumer(group_id=None)  # no group commits on a bench
                    try:
                        report = ingest_ranges(
                            consumer,
                            conn,
                            kind=kinds[topic],
                            topic=topic,
                            ranges=ranges,
                            max_batch=kafka.max_batch,
                            commit_offsets=False,
                            locks=locks,  # one lock session, as the live tail keeps
                        )
                    finally:
                        consumer.close()
                    stored += report.stored
                # what is new comes from the lake's change log, as in the live tail
                update_journeys(
                    conn, **kafka.journey_topics, now=datetime.now(UTC), report_stale=False
                )
                if publisher is not None:
                    begin, begin_cpu = time.perf_counter(), cpu_seconds()
                    published = publisher.publish_pending()
                    publish_wall += time.perf_counter() - begin
                    publish_cpu += cpu_seconds() - begin_cpu
                    if published.waiting:
                        raise RuntimeError(f"the stream waits: {published.waiting}")
                    records += published.records
                    transactions += published.transactions
            seconds = time.perf_counter() - started
            cpu = cpu_seconds() - cpu_before
            broker_after = broker_cpu_seconds(broker_pid)
            if publisher is not None:
                publisher.close()
            locks.close()
            journey_rows = conn.execute("SELECT count(*) FROM journey_events").fetchone()[0]
            conn.close()
    finally:
        if journey_topic:
            admin.delete_topics([journey_topic])
        admin.close()
    return {
        "stream": "on" if stream else "off",
        "events": sum(r.size for s in plan for rs in s.values() for r in rs),
        "stored": stored,
        "micro_batches": len(plan),
        "journey_rows": journey_rows,
        "records": records,
        "transactions": transactions,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "publish_seconds": publish_wall,
        "publish_cpu_seconds": publish_cpu,  # the whole process's CPU meanwhile
        "publish_lake_read_seconds": lake_read[0],
        "broker_cpu_seconds": (broker_after - broker_before if broker_before is not None else None),
    }


def source_topics_names(events: int) -> tuple[str, str]:
    from bench_ingest import topic_names

    return topic_names(events)


def run_child(stream: bool, events: int, batch: int, broker_pid: int | None) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        "on" if stream else "off",
        "--events",
        str(events),
        "--batches",
        str(batch),
    ]
    if broker_pid is not None:
        command += ["--broker-pid", str(broker_pid)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batches", default="1000,5000", help="micro-batch sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--broker-pid", type=int, default=None)
    parser.add_argument("--child", choices=("on", "off"))
    parser.add_argument("--no-write-results", action="store_true")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.child:
        result = measure(args.child == "on", args.events, batches[0], args.broker_pid)
        print(json.dumps(result))
        return
    source_topics(args.events)
    started_at, load_before = datetime.now(UTC), load()
    results: dict[int, list[dict]] = {b: [] for b in batches}
    loads = [load_before]
    for round_ in range(args.rounds):
        for batch in batches:
            order = (True, False) if round_ % 2 == 0 else (False, True)
            for stream in order:
                result = run_child(stream, args.events, batch, args.broker_pid)
                result["round"] = round_ + 1
                result["batch"] = batch
                result["load"] = load()
                results[batch].append(result)
                print(
                    f"round {round_ + 1} batch {batch:,} stream {result['stream']}: "
                    f"{result['events'] / result['seconds']:,.0f} events/s, "
                    f"{result['seconds']:.2f} s, CPU {result['cpu_seconds']:.2f} s, "
                    f"{result['records']:,} records, load {result['load']}",
                    file=sys.stderr,
                )
        loads.append(load())
    text = report(args, results, started_at, loads)
    print(text)
    if not args.no_write_results:
        (HERE / "RESULTS.md").write_text(text)


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(args, results: dict[int, list[dict]], started_at: datetime, loads: list[str]) -> str:
    lines = [
        "# The journey stream's cost: ingest throughput with the stream on against off",
        "",
        f"Generated by `bench/streams/bench_stream_cost.py` on {started_at:%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()} ({os.cpu_count()} cores), Kafka at {BOOTSTRAP}. "
        f"{args.events:,} simulator events per run (a prefix of bench/ingest's topics "
        f"{' + '.join(source_topics_names(args.events))}), ingested, their journeys "
        "derived and (stream on) published, micro-batch by micro-batch as the live tail does; "
        f"medians of {args.rounds} interleaved rounds, each run in its own process on a fresh "
        "lake. Load averages (1, 5, 15 min) before and after each round: " + "; ".join(loads) + ".",
        "",
        "| micro-batch | stream | events/s | wall s | CPU-s (pipeline) | CPU-s (broker) "
        "| records | transactions |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary = []
    for batch, rows in results.items():
        by = {mode: [r for r in rows if r["stream"] == mode] for mode in ("on", "off")}
        rate = {m: statistics.median(r["events"] / r["seconds"] for r in by[m]) for m in by}
        cpu = {m: median(by[m], "cpu_seconds") for m in by}
        broker = {
            m: (
                median(by[m], "broker_cpu_seconds")
                if by[m][0]["broker_cpu_seconds"] is not None
                else None
            )
            for m in by
        }
        for m in ("off", "on"):
            lines.append(
                f"| {batch:,} | {m} | {rate[m]:,.0f} | {median(by[m], 'seconds'):.2f} | "
                f"{cpu[m]:.2f} | {'-' if broker[m] is None else f'{broker[m]:.2f}'} | "
                f"{median(by[m], 'records'):,.0f} | {median(by[m], 'transactions'):,.0f} |"
            )
        summary.append(
            f"- micro-batches of {batch:,} ({by['on'][0]['micro_batches']} per run): throughput "
            f"on/off **{rate['on'] / rate['off']:.2f}**, pipeline CPU on/off "
            f"**{cpu['on'] / cpu['off']:.2f}** (+{cpu['on'] - cpu['off']:.2f} CPU-s per "
            f"{args.events:,} events)"
            + (
                f", broker CPU +{broker['on'] - broker['off']:.2f} s"
                if broker["on"] is not None
                else ""
            )
            + f"; publishing took {median(by['on'], 'publish_seconds'):.2f} s wall per run, of "
            f"which {median(by['on'], 'publish_lake_read_seconds'):.2f} s reading the records "
            f"from the lake, and {median(by['on'], 'publish_cpu_seconds'):.2f} CPU-s"
        )
    lines += ["", *summary, "", "Every run:", ""]
    lines += [
        "| round | micro-batch | stream | events | stored | journey rows | records | wall s "
        "| events/s | CPU-s | broker CPU-s | publish wall s (lake read) | publish CPU-s "
        "| load after |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for batch, rows in results.items():
        for r in rows:
            broker = "-" if r["broker_cpu_seconds"] is None else f"{r['broker_cpu_seconds']:.2f}"
            lines.append(
                f"| {r['round']} | {batch:,} | {r['stream']} | {r['events']:,} | "
                f"{r['stored']:,} | {r['journey_rows']:,} | {r['records']:,} | "
                f"{r['seconds']:.2f} | {r['events'] / r['seconds']:,.0f} | "
                f"{r['cpu_seconds']:.2f} | {broker} | {r['publish_seconds']:.2f} "
                f"({r['publish_lake_read_seconds']:.2f}) | {r['publish_cpu_seconds']:.2f} | "
                f"{r['load']} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
