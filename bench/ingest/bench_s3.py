"""The lake on S3 against the lake in a local folder: ingest throughput and upkeep time.

Usage: .venv/bin/python bench/ingest/bench_s3.py [--events 200000] [--repeats 3]

Uses the ingest benchmark's simulator topics (bench_ingest.py fills them once), starts its own
S3 server (SeaweedFS `weed mini` on free ports of 127.0.0.1, as the tests do), then measures,
interleaved and repeated, in a fresh lake each time (same PostgreSQL catalog server):
  - ingest: every message of both topics through our ingest path, in runs of at most 50,000
    messages as the sensor plans them;
  - upkeep: one round of `maintain` (flush, merge, rewrite, expire, cleanup, orphans) right
    after, on the files the ingest left.
Each measurement runs in its own process. Results go to bench/ingest/S3.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

KINDS = ("local", "s3")


def measure(kind: str, events: int, s3: dict[str, str]) -> dict:
    from dataclasses import replace

    from bench_ingest import MAX_BATCH, end_offsets, topic_names
    from scratch_lake import scratch_lake

    from analytics_pipeline.ingest.loop import ingest_ranges
    from analytics_pipeline.ingest.ranges import plan_topic_runs
    from analytics_pipeline.resources.kafka import KafkaResource
    from analytics_pipeline.warehouse import S3Access, connect
    from analytics_pipeline.warehouse.maintenance import maintain

    topics = topic_names(events)
    kafka = KafkaResource(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        max_batch=MAX_BATCH,
    )
    with scratch_lake("bench_s3") as local_lake:
        lake = local_lake
        if kind == "s3":
            access = S3Access(
                region="us-east-1",
                endpoint_url=s3["endpoint"],
                access_key_id=s3["key"],
                secret_access_key=s3["secret"],
            )
            path = f"s3://{s3['bucket']}/bench-{uuid.uuid4().hex[:8]}/"
            lake = replace(local_lake, data_path=path, s3=access)
        started = time.perf_counter()
        conn = connect(lake)
        count = 0
        for ingest_kind, topic in zip(("clickstream", "backend"), topics, strict=True):
            for run in plan_topic_runs({}, {topic: end_offsets(topic)}, MAX_BATCH):
                consumer = kafka.consumer(group_id=None)
                try:
                    report = ingest_ranges(
                        consumer,
                        conn,
                        kind=ingest_kind,
                        topic=topic,
                        ranges=run[topic],
                        max_batch=MAX_BATCH,
                        commit_offsets=False,
                    )
                finally:
                    consumer.close()
                count += report.received
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        result = maintain(conn, retention=timedelta(days=7), now=datetime.now(UTC))
        upkeep_s = time.perf_counter() - started
        conn.close()
    return {
        "kind": kind,
        "events": count,
        "ingest_s": ingest_s,
        "upkeep_s": upkeep_s,
        "files_before": result.before.files,
        "files_after": result.after.files,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=KINDS)
    args = parser.parse_args()
    if args.child:
        s3 = json.loads(os.environ.get("BENCH_S3", "{}"))
        print(json.dumps(measure(args.child, args.events, s3)))
        return

    from bench_ingest import prepare

    from analytics_pipeline_tests.fixtures.s3 import S3Server, free_ports

    topics = prepare(args.events)
    with tempfile.TemporaryDirectory() as folder:
        server = S3Server(
            data_dir=Path(folder),
            ports=free_ports(10),
            access_key="bench",
            secret_key=f"bench-{uuid.uuid4().hex}",
            bucket="bench",
        )
        server.start()
        try:
            s3 = {
                "endpoint": server.endpoint,
                "bucket": server.bucket,
                "key": server.access_key,
                "secret": server.secret_key,
            }
            results: dict[str, list[dict]] = {kind: [] for kind in KINDS}
            for round_ in range(args.repeats):
                for kind in KINDS:
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", kind, "--events", str(args.events)],
                        check=True,
                        capture_output=True,
                        text=True,
                        env={**os.environ, "BENCH_S3": json.dumps(s3)},
                    )
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                    results[kind].append(result)
                    print(
                        f"round {round_ + 1} {kind}: {result['events']:,} events in "
                        f"{result['ingest_s']:.1f} s, upkeep {result['upkeep_s']:.2f} s",
                        file=sys.stderr,
                    )
        finally:
            server.stop()
    write_results(args, topics, results)


def write_results(args, topics, results: dict[str, list[dict]]) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind])

    rate = {k: statistics.median(r["events"] / r["ingest_s"] for r in results[k]) for k in KINDS}
    upkeep_ratio = median("s3", "upkeep_s") / median("local", "upkeep_s")
    lines = [
        "# The lake on S3 against a local folder",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, shared with other work), "
        f"{results['local'][0]['events']:,} simulator events in {topics[0]} + {topics[1]}, "
        f"median of {args.repeats} interleaved rounds, each in its own process and a fresh "
        "lake (catalog on the local PostgreSQL). S3: SeaweedFS `weed mini` 4.48 on 127.0.0.1 "
        "(no network latency: a real bucket adds each request's round trip).",
        "",
        "| data files | ingest events/s | upkeep s | files before → after upkeep |",
        "|---|---:|---:|---|",
        *(
            f"| {kind} | {rate[kind]:,.0f} | {median(kind, 'upkeep_s'):.2f} | "
            f"{median(kind, 'files_before'):.0f} → {median(kind, 'files_after'):.0f} |"
            for kind in KINDS
        ),
        "",
        f"- S3 / local ingest throughput: **{rate['s3'] / rate['local']:.2f}**",
        f"- S3 / local upkeep time: **{upkeep_ratio:.2f}**",
        "",
        "Every round:",
        "",
        "| data files | events | ingest s | events/s | upkeep s |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {r['kind']} | {r['events']:,} | {r['ingest_s']:.2f} | "
            f"{r['events'] / r['ingest_s']:,.0f} | {r['upkeep_s']:.2f} |"
            for kind in KINDS
            for r in results[kind]
        ),
        "",
    ]
    (HERE / "S3.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
