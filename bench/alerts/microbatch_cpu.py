"""CPU-seconds of one live-tail micro-batch, per phase, by how many messages it carries.

Usage (after `make up`):
    .venv/bin/python bench/alerts/microbatch_cpu.py [--rate 5] [--interval 1 --interval 2]
        [--seconds 120]

On a loaded machine a pipeline's CPU-seconds per minute says little: a starved live tail runs
fewer, larger micro-batches. What one micro-batch costs does not depend on the load, so this
runs the live tail's step (ingest/live.py: raw rows per topic with a consumer of its own,
journeys, alert rules; Slack off, so no post) in this process on a fresh lake and topics fed by
the simulator, and measures each phase with the process's CPU clock (every thread, DuckDB's
included). Each `--interval` is a phase of its own: a micro-batch every that many seconds
(what MIN_BATCH_INTERVAL_S bounds). CPU-seconds per minute at `--rate` events/s on an idle
machine then follow: 60 / interval micro-batches of rate x interval messages each. A phase
given as INTERVAL:THREADS runs with DuckDB's `threads` setting at THREADS; phases with the
same text are pooled, so `--interval 1 --interval 2 --interval 1 --interval 2` interleaves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from bench_alerts import REPO, VENV_BIN, create_topics, delete_topics, setting, spawn, stop_group  # noqa: E402
from scratch_lake import scratch_lake  # noqa: E402

from analytics_pipeline.alerts.evaluation import evaluate_rules  # noqa: E402
from analytics_pipeline.alerts.thresholds import Thresholds  # noqa: E402
from analytics_pipeline.defs.ingest.live import CLOCK_RULES_INTERVAL_S  # noqa: E402
from analytics_pipeline.ingest.live import new_ranges  # noqa: E402
from analytics_pipeline.ingest.loop import ingest_ranges  # noqa: E402
from analytics_pipeline.ingest.writer import read_ledger  # noqa: E402
from analytics_pipeline.journeys.derive import update_journeys  # noqa: E402
from analytics_pipeline.resources.kafka import KafkaResource  # noqa: E402
from analytics_pipeline.warehouse.connection import connect  # noqa: E402
from analytics_pipeline.warehouse.lake import _instance_conn  # noqa: E402
from analytics_pipeline.warehouse.partition_locks import PartitionLocks  # noqa: E402
from analytics_pipeline_tests.fixtures.warehouse import lake_environment  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument(
        "--interval",
        action="append",
        help="seconds between micro-batches, optionally :THREADS (DuckDB's threads), e.g. 2:1",
    )
    parser.add_argument("--seconds", type=float, default=120, help="per interval")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--queries", action="store_true", help="count catalog round trips")
    args = parser.parse_args()
    intervals = args.interval or ["1", "2"]
    run_id = uuid.uuid4().hex[:6]
    work = REPO / "bench" / ".work" / f"microbatch-{run_id}"
    work.mkdir(parents=True)
    topics = {"clickstream": f"mb-{run_id}-clickstream", "backend": f"mb-{run_id}-backend"}
    create_topics(list(topics.values()))
    kafka = KafkaResource(
        bootstrap_servers=setting("KAFKA_BOOTSTRAP_SERVERS"),
        clickstream_topic=topics["clickstream"],
        backend_topic=topics["backend"],
    )
    thresholds = Thresholds.from_settings()
    results: dict[str, list[dict]] = {}
    with scratch_lake("mb") as lake:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": setting("KAFKA_BOOTSTRAP_SERVERS"),
            "ANALYTICS_CLICKSTREAM_TOPIC": topics["clickstream"],
            "ANALYTICS_BACKEND_TOPIC": topics["backend"],
            **lake_environment(lake),
        }
        simulate = [str(VENV_BIN / "analytics-pipeline"), "simulate", "--users", "100"]
        simulator = spawn(
            [*simulate, "--days", "7", "--seed", "7", "--live", "--rate", str(args.rate)],
            env,
            work / "simulator.log",
            work,
        )
        conn = connect(lake)
        locks = PartitionLocks.for_connection(conn)
        poller = kafka.consumer()
        logged = _instance_conn() if args.queries else None
        if logged is not None:
            logged.execute("CALL enable_logging(level = 'debug')")

        def catalog_queries() -> int:
            """Catalog round trips since the last call (0 without --queries)."""
            if logged is None:
                return 0
            row = logged.execute(
                "SELECT count(*) FROM duckdb_logs WHERE type = 'PostgresQueryLog'"
            ).fetchone()
            logged.execute("CALL truncate_duckdb_logs()")
            return int(row[0]) if row else 0

        try:
            known = {topic: read_ledger(conn, topic) for topic in topics.values()}
            clock_next = [0.0]  # the clock rules' cadence, as defs/ingest/live.py's step

            def batch() -> dict | None:
                ranges = new_ranges(known, kafka.topics_end_offsets(topics.values(), poller))
                if not ranges:
                    return None
                cpu: dict[str, float] = {}
                catalog_queries()
                started = time.process_time()
                locked = locks.round_trips
                for kind, topic in topics.items():
                    if topic in ranges:
                        consumer = kafka.consumer()
                        try:
                            ingest_ranges(
                                consumer,
                                conn,
                                kind=kind,  # type: ignore[arg-type]
                                topic=topic,
                                ranges=ranges[topic],
                                max_batch=kafka.max_batch,
                                locks=locks,  # one session for the tail, as defs/ingest/live.py
                            )
                        finally:
                            consumer.close()
                mark = time.process_time()
                cpu["raw"], started = mark - started, mark
                cpu["raw_queries"] = catalog_queries()
                # the partition locks' statements (psycopg2, not in DuckDB's log)
                cpu["lock_queries"] = locks.round_trips - locked
                started += time.process_time() - mark
                now = datetime.now(UTC)
                update_journeys(conn, **kafka_topics(topics), now=now, report_stale=False)
                mark = time.process_time()
                cpu["journeys"], started = mark - started, mark
                cpu["journeys_queries"] = catalog_queries()
                started += time.process_time() - mark
                with_clock = time.monotonic() >= clock_next[0]
                if with_clock:
                    clock_next[0] = time.monotonic() + CLOCK_RULES_INTERVAL_S
                evaluate_rules(
                    conn,
                    now=now,
                    thresholds=thresholds,
                    slack_enabled=False,
                    clock_rules=with_clock,
                )
                cpu["rules"] = time.process_time() - started
                cpu["rules_queries"] = catalog_queries()
                for topic, topic_ranges in ranges.items():
                    for r in topic_ranges:
                        known.setdefault(topic, {})[r.partition] = r.end
                messages = sum(r.size for rs in ranges.values() for r in rs)
                return {
                    "messages": messages,
                    "topics": len(ranges),
                    "clock_rules": with_clock,
                    **cpu,
                }

            deadline = time.monotonic() + args.warmup
            while time.monotonic() < deadline:  # the simulator's start, the lake's first rows
                batch()
                time.sleep(1.0)
            for phase in intervals:
                interval_text, _, threads = phase.partition(":")
                interval = float(interval_text)
                conn.execute(f"SET threads = {int(threads)}" if threads else "RESET threads")
                rows = results.setdefault(phase, [])
                deadline = time.monotonic() + args.seconds
                while time.monotonic() < deadline:
                    began = time.monotonic()
                    row = batch()
                    if row:
                        rows.append(row)
                    time.sleep(max(0.0, interval - (time.monotonic() - began)))
        finally:
            poller.close()
            locks.close()
            conn.close()
            stop_group(simulator)
    delete_topics(list(topics.values()))
    summary = {}
    for interval, rows in results.items():
        phases = ("raw", "journeys", "rules")
        total = [sum(r[p] for p in phases) for r in rows]
        per_batch = statistics.median(total)
        summary[interval] = {
            "micro_batches": len(rows),
            "median_messages": statistics.median(r["messages"] for r in rows),
            "median_cpu_s": {p: round(statistics.median(r[p] for r in rows), 4) for p in phases},
            "median_cpu_s_per_batch": round(per_batch, 4),
            "median_catalog_queries": {
                p: statistics.median(r[f"{p}_queries"] for r in rows) for p in phases
            },
            "median_lock_queries": statistics.median(r.get("lock_queries", 0) for r in rows),
            "median_topics": statistics.median(r["topics"] for r in rows),
            # At `rate` on an idle machine: 60 / interval micro-batches a minute.
            "cpu_s_per_minute_at_rate": round(
                per_batch * 60 / float(interval.partition(":")[0]), 2
            ),
        }
    print(
        json.dumps({"rate": args.rate, "seconds": args.seconds, "by_interval": summary}, indent=2)
    )
    (work / "result.json").write_text(json.dumps({"rows": results, "summary": summary}, indent=2))
    return 0


def kafka_topics(topics: dict[str, str]) -> dict[str, str]:
    return {"clickstream_topic": topics["clickstream"], "backend_topic": topics["backend"]}


if __name__ == "__main__":
    sys.exit(main())
