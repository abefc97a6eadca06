"""Ingest cost against a large warehouse: does a run slow down as the raw table grows?

Usage: .venv/bin/python bench/ingest/bench_ingest_scale.py [--rows 1600000 6800000 27600000]

Every stored row takes part in de-duplication (a new event_id must not be stored yet) and in
the raw checks, so a run's cost grows with the table. This fills a scratch warehouse with real
simulator rows from the ingest benchmark's topic, grows it by copying them under new event_ids
to each size in `--rows`, and at each size times (median of 3) a 20-message run (what an alert
waits for), a 50,000-message run, 20 messages whose event_ids are stored already (re-sent by a
producer: from the latest run, and from the oldest batch), and the three raw checks. Results go to
bench/ingest/SCALE.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_ingest  # noqa: E402  (the topics and Kafka helpers of the throughput benchmark)

RUN_SIZES = (20, 50_000)


def _ingest(kafka, conn, topic: str, partition: int, start: int, size: int) -> float:
    from analytics_pipeline.ingestion import OffsetRange, ingest_ranges

    consumer = kafka.consumer(group_id=None)
    started = time.perf_counter()
    try:
        report = ingest_ranges(
            consumer,
            conn,
            kind="clickstream",
            topic=topic,
            ranges=[OffsetRange(partition, start, start + size)],
            max_batch=bench_ingest.MAX_BATCH,
            commit_offsets=False,
        )
    finally:
        consumer.close()
    assert report.received == size, report
    return time.perf_counter() - started


def _replay(kafka, conn, topic: str, partition: int, start: int, size: int) -> float:
    """Ingest `size` stored messages again, as if a producer had re-sent them: every one is a
    repeated event_id that the writer must find among the stored rows."""
    where = "WHERE topic = $topic AND kafka_partition = $partition"
    params = {"topic": topic, "partition": partition}
    [(saved,)] = conn.execute(f"SELECT next_offset FROM ingest_offsets {where}", params).fetchall()
    conn.execute(f"UPDATE ingest_offset_log SET next_offset = {start} {where}", params)
    stored = _count(conn)
    seconds = _ingest(kafka, conn, topic, partition, start, size)
    assert _count(conn) == stored, "a repeated event_id was stored"
    conn.execute(f"UPDATE ingest_offset_log SET next_offset = {saved} {where}", params)
    return seconds


def _checks(conn, topic: str) -> float:
    from analytics_pipeline.ingest import raw_checks

    last = conn.execute("SELECT max(ingest_batch_id) FROM raw_clickstream_events").fetchone()
    started = time.perf_counter()
    raw_checks.run_checks(
        conn, kind="clickstream", topic=topic, warn_share=0.05, batch_ids=[last[0]]
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_600_000, 6_800_000, 27_600_000])
    parser.add_argument("--events", type=int, default=1_000_000, help="ingest benchmark topics")
    args = parser.parse_args()

    from analytics_pipeline.resources.kafka import KafkaResource
    from analytics_pipeline.warehouse import connect
    from analytics_pipeline.warehouse.raw_tables import sync_event_keys

    topic = bench_ingest.prepare(args.events)[0]
    ends = bench_ingest.end_offsets(topic)
    kafka = KafkaResource(bootstrap_servers=bench_ingest.BOOTSTRAP)
    seed_size = 50_000
    needed = seed_size + 3 * sum(RUN_SIZES) * len(args.rows)
    if sum(ends.values()) < needed:
        sys.exit(f"{topic} has {sum(ends.values()):,} messages; need about {needed:,}")
    next_offset = dict.fromkeys(ends, 0)

    def take(size: int) -> tuple[int, int]:
        """(partition, start) of `size` messages not ingested yet."""
        partition = max(ends, key=lambda p: ends[p] - next_offset[p])
        start = next_offset[partition]
        next_offset[partition] += size
        return partition, start

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        conn = connect(Path(folder) / "scale.duckdb")
        oldest = take(seed_size)
        _ingest(kafka, conn, topic, *oldest, seed_size)
        copies = 0
        for target in sorted(args.rows):
            print(f"growing the raw table to {target:,} rows ...", file=sys.stderr)
            while (stored := _count(conn)) < target:
                # New event_ids, in batches of 50,000 as ingest runs would write them (batch ids
                # below the real ones, so the real batches keep their own row groups).
                copies += 1
                conn.execute(
                    "INSERT INTO raw_clickstream_events SELECT * REPLACE ("
                    "gen_random_uuid()::VARCHAR AS event_id, "
                    f"-{copies} * 1000000 - (row_number() OVER () // 50000) AS ingest_batch_id"
                    f") FROM raw_clickstream_events LIMIT {target - stored}"
                )
            sync_event_keys(conn)  # the copies need their keys, as in a real warehouse
            conn.execute("CHECKPOINT")
            row = {"rows": _count(conn)}
            for size in RUN_SIZES:
                times = []
                for _ in range(3):
                    recent = take(size)
                    times.append(_ingest(kafka, conn, topic, *recent, size))
                row[size] = statistics.median(times)
            for name, (partition, start) in (("recent", recent), ("oldest", oldest)):
                row[name] = statistics.median(
                    _replay(kafka, conn, topic, partition, start + 20 * i, 20) for i in range(3)
                )
            row["checks"] = statistics.median(_checks(conn, topic) for _ in range(3))
            print(row, file=sys.stderr)
            rows.append(row)
        conn.close()
    write_results(rows)


def _count(conn) -> int:
    return conn.execute("SELECT count(*) FROM raw_clickstream_events").fetchone()[0]


def write_results(rows: list[dict]) -> None:
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores)",
        "",
        "| stored rows | 20-message run | 50,000-message run | 20 repeated (recent) "
        "| 20 repeated (oldest) | raw checks |",
        "|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['rows']:,} | {r[20]:.2f} | {r[50_000]:.2f} | {r['recent']:.2f} "
            f"| {r['oldest']:.2f} | {r['checks']:.2f} |"
            for r in rows
        ),
    ]
    summary = "\n".join(lines)
    sys.path.insert(0, str(HERE.parent))
    from latest_block import write_latest_block

    write_latest_block(
        HERE / "SCALE.md",
        "bench_ingest_scale.py",
        summary,
        title="Ingest cost against a large warehouse",
    )
    print(summary)


if __name__ == "__main__":
    main()
