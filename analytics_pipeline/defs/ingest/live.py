"""The live tail of an ingest run (ingest/live.py), as the run's last step runs it.

Each micro-batch does what the run's steps do, in their order and with their functions: the
raw rows (one transaction per topic, the ledger inside it), the journeys, the alert rules, and
the quick post of the alerts they wrote. What a micro-batch knows spares lake statements (each
costs catalog round trips): the journeys and the rules read what is new from the catalog's
change log (warehouse/snapshots.py: which raw tables to read, where the new journey events
end), the partition locks keep one catalog session (warehouse/partition_locks.py), and the
clock rules run on a cadence of their own (CLOCK_RULES_INTERVAL_S). One lake connection serves the
whole tail, so a micro-batch pays no attach. One consumer asks for the end offsets
throughout; each micro-batch reads with a consumer of its own, as each raw step does: a
consumer that had fetched, paused and been re-assigned many times sometimes never fetched a
partition again (a 30 s stall failed the run in bench/alerts, once in a few hundred
micro-batches; not reproduced alone).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import dagster as dg
import duckdb

from analytics_pipeline.alerts.evaluation import evaluate_rules
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.defs.streams.journey import journey_publisher, publish_step
from analytics_pipeline.events.wire import Kind
from analytics_pipeline.ingest.live import LiveReport, Offsets, follow
from analytics_pipeline.ingest.loop import ingest_ranges
from analytics_pipeline.ingest.ranges import OffsetRange
from analytics_pipeline.ingest.writer import read_ledger
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.warehouse.partition_locks import PartitionLocks

# Kafka is asked for the end offsets this often: what a message waits before its micro-batch
# starts, at one ListOffsets request (both topics) each time.
POLL_INTERVAL_S = 0.2
# A micro-batch starts at most this often: under a steady stream, one batch carries everything
# that landed meanwhile, instead of a lake commit per message. A micro-batch costs about the
# same whatever it carries (~0.65 CPU-s here, mostly its ~60 lake statements and their catalog
# round trips), so this interval is what a steady stream costs: 1 s was 0.79 of a core at
# 5 events/s (issue 16's target: 0.5). What it adds to latency: a message that lands right after
# a micro-batch started waits up to this long for the next one; after a quiet spell longer than
# the interval the batch starts at once. So at 5 events/s the wait is 0-2 s (p95 ~1.9 s) before
# the batch's own ~1 s, and at light load (a sign-up every 1-5 s) only the ~25 % of sign-ups that
# come within 2 s of the last batch wait, at most 1 s (bench/alerts/RESULTS.md).
MIN_BATCH_INTERVAL_S = 2.0
LIVE_UNTIL_TAG = "analytics/live_until"
# DuckDB's threads while the tail runs (its default: one per core). A micro-batch's statements
# are small, so a second thread buys no time but costs the scheduling of its tasks: with one,
# a 2-s micro-batch at 5 events/s took 17 % less CPU (bench/alerts/microbatch_cpu.py, 16
# micro-batches each way, interleaved). The run's planned ranges (a backlog) keep every core.
LIVE_DUCKDB_THREADS = 1
# The clock rules (deployment_slow, onboarding_stalled: thresholds of 10 and 30 minutes) are
# evaluated in a micro-batch at most this often, or when the entity they watch becomes due:
# their two reads were ~40 of a micro-batch's ~400 catalog round trips. What it costs: an
# entity that is due on arrival (a late event) alerts up to this much later, as when the
# send_alerts sensor (every 15 s) finds it; the run evaluates them once more at the tail's end.
CLOCK_RULES_INTERVAL_S = 15.0


def live_metadata(report: LiveReport) -> dict[str, dg.MetadataValue]:
    return {
        "live_micro_batches": dg.MetadataValue.int(report.batches),
        "live_messages_taken": dg.MetadataValue.int(report.messages),
        "live_seconds": dg.MetadataValue.float(round(report.seconds, 1)),
        "live_ended_by": dg.MetadataValue.text(report.ended_by or "-"),
        "live_offset_ranges": dg.MetadataValue.json(
            {
                topic: {str(p): span for p, span in sorted(partitions.items())}
                for topic, partitions in report.taken.items()
            }
        ),
    }


def run_live_tail(
    context: dg.AssetExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    *,
    seconds: int,
    planned_topics: Mapping[str, str],
    idle_seconds: int,
    kafka: KafkaResource,
    slack: SlackResource,
    thresholds: Thresholds,
    clock: Callable[[], datetime],
    post: Callable[[datetime], object],
    stream: bool = True,
) -> LiveReport:
    """Follow both topics (by kind; default: the configured ones) from the lake's ledger for
    up to `seconds`; see ingest/live.py. With `stream`, the journey stream is published right
    after each micro-batch's journeys, before its rules, and once at the start for what the
    run's planned ranges derived (defs/streams). `clock` is the rules' time (RulesConfig.clock)."""
    topics: dict[Kind, str] = {
        "clickstream": planned_topics.get("clickstream", kafka.clickstream_topic),
        "backend": planned_topics.get("backend", kafka.backend_topic),
    }
    until = datetime.now(UTC).timestamp() + seconds
    # The ingest sensor reads it: no run is planned for what this run will take anyway.
    context.instance.add_run_tags(context.run.run_id, {LIVE_UNTIL_TAG: f"{until:.0f}"})
    known: Offsets = {topic: read_ledger(conn, topic) for topic in topics.values()}
    poller = kafka.consumer()
    locks = PartitionLocks.for_connection(conn)  # one catalog session for the whole tail
    publisher = journey_publisher(kafka, conn) if stream and kafka.journey_topic else None
    publish = publish_step(publisher, context.log) if publisher else None
    # When the clock rules are next evaluated: by the machine's clock (the cadence) or by the
    # rules' clock (a watched entity becomes due); None: in the next micro-batch.
    clock_next: list[float | None] = [None]
    clock_due: list[datetime | None] = [None]

    def end_offsets() -> Offsets:
        return kafka.topics_end_offsets(topics.values(), poller)

    def step(ranges: dict[str, list[OffsetRange]]) -> None:
        # The journeys update and the rules find what this micro-batch committed in the
        # catalog's change log (warehouse/snapshots.py): no scan for the newest snapshot, and
        # a raw table without new rows is not read.
        for kind, topic in topics.items():
            if topic in ranges:
                consumer = kafka.consumer()
                try:
                    ingest_ranges(
                        consumer,
                        conn,
                        kind=kind,
                        topic=topic,
                        ranges=ranges[topic],
                        max_batch=kafka.max_batch,
                        max_batch_bytes=kafka.max_batch_bytes,
                        warn=context.log.warning,
                        locks=locks,
                    )
                finally:
                    consumer.close()
        now = clock()
        # The unreported funnel marks are read by the next journeys run, which reports them.
        update_journeys(conn, **kafka.journey_topics, now=now, report_stale=False)
        if publish is not None:
            publish()
        cadence, due = clock_next[0], clock_due[0]
        with_clock = (
            cadence is None or time.monotonic() >= cadence or (due is not None and now >= due)
        )
        rules = evaluate_rules(
            conn,
            now=now,
            thresholds=thresholds,
            slack_enabled=slack.enabled,
            clock_rules=with_clock,
        )
        if with_clock:
            clock_next[0] = time.monotonic() + CLOCK_RULES_INTERVAL_S
            clock_due[0] = rules.next_clock_check_at
        if rules.new_alerts and slack.enabled:
            post(now)

    conn.execute(f"SET threads = {LIVE_DUCKDB_THREADS}")
    try:
        if publish is not None:
            publish()
        report = follow(
            known,
            end_offsets=end_offsets,
            step=step,
            max_seconds=seconds,
            idle_seconds=idle_seconds,
            poll_interval_s=POLL_INTERVAL_S,
            min_batch_interval_s=MIN_BATCH_INTERVAL_S,
        )
    finally:
        poller.close()
        locks.close()
        if publisher is not None:
            publisher.close()
        with contextlib.suppress(duckdb.Error):  # a lost catalog must not hide the real error
            conn.execute("RESET threads")
    context.log.info(
        f"live tail: {report.messages} messages in {report.batches} micro-batches over "
        f"{report.seconds:.0f} s, ended by {report.ended_by}"
    )
    return report
