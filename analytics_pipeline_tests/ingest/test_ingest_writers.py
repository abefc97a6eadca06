"""Ingest writers side by side (ANALYTICS_INGEST_WRITERS=3, six partitions per topic): the raw
writers commit at once without a single commit conflict, and journeys and alerts, updated while
they commit, end up exact."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.utils import make_new_run_id

from analytics_pipeline.alerts.evaluation import evaluate_rules
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.defs.ingest import ingest_sensor
from analytics_pipeline.defs.ingest.writers import WRITER_TAG, writer_of
from analytics_pipeline.ingest.loop import ingest_ranges
from analytics_pipeline.ingest.ranges import OffsetRange
from analytics_pipeline.journeys.derive import events_without_raw_event, update_journeys
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.warehouse import connect, reading
from analytics_pipeline_tests.journeys.raw_events import code_run, identify, page_view, signup

WRITERS, PARTITIONS, USERS = 3, 6, 36


def traffic(produce, clickstream: str, backend: str) -> dict[str, int]:
    """Per user: a sign-up and a code run (backend), a page view before login and the identify
    linking it, on a partition of another writer; one invalid message per clickstream
    partition. Returns the messages per topic."""
    now = datetime.now(UTC)
    for i in range(USERS):
        p = i % PARTITIONS
        user, browser = f"u{i}", f"a{i}"
        ts = [(now - timedelta(minutes=30 - k)).isoformat() for k in range(4)]
        produce(backend, [signup(user, ts[1]), code_run(user, ts[2])], partition=p)
        produce(clickstream, [page_view(browser, ts[0])], partition=p)
        produce(clickstream, [identify(browser, user, ts[3])], partition=(p + 1) % PARTITIONS)
    for p in range(PARTITIONS):
        produce(clickstream, [b"not json"], partition=p)
    return {clickstream: 2 * USERS + PARTITIONS, backend: 2 * USERS}


def test_three_writers_commit_side_by_side_without_conflicts_and_journeys_stay_exact(
    new_topics, produce, kafka_bootstrap, lake
):
    clickstream, backend = new_topics(partitions=PARTITIONS)
    traffic(produce, clickstream, backend)
    kafka = KafkaResource(
        bootstrap_servers=kafka_bootstrap, clickstream_topic=clickstream, backend_topic=backend
    )
    connect(lake).close()  # the schema exists before the race
    ends = {}
    consumer = kafka.consumer()
    try:
        ends = {t: kafka.end_offsets(t, consumer) for t in (clickstream, backend)}
    finally:
        consumer.close()

    barrier = threading.Barrier(WRITERS + 1)
    outcomes: list[dict] = [{"warnings": [], "reports": []} for _ in range(WRITERS)]
    done = threading.Event()

    def write(k: int) -> None:
        outcome = outcomes[k]
        consumer, conn = kafka.consumer(), connect(lake)
        try:
            barrier.wait(timeout=30)
            outcome["start"] = time.monotonic()
            for kind, topic in (("clickstream", clickstream), ("backend", backend)):
                ranges = [
                    OffsetRange(p, 0, end)
                    for p, end in sorted(ends[topic].items())
                    if writer_of(p, WRITERS) == k
                ]
                outcome["reports"].append(
                    ingest_ranges(
                        consumer,
                        conn,
                        kind=kind,
                        topic=topic,
                        ranges=ranges,
                        max_batch=3,  # many small commits, interleaved across the writers
                        commit_offsets=False,
                        warn=outcome["warnings"].append,
                    )
                )
            outcome["end"] = time.monotonic()
        except BaseException as error:  # surfaced by the test
            outcome["error"] = error
        finally:
            conn.close()
            consumer.close()

    journey_steps: list = []

    def follow_journeys() -> None:
        """The single journeys writer, stepping while the raw writers commit."""
        conn = connect(lake)
        try:
            barrier.wait(timeout=30)
            while not done.is_set():
                journey_steps.append(update_journeys(conn, **topic_names))
        except BaseException as error:
            journey_steps.append(error)
        finally:
            conn.close()

    topic_names = {"clickstream_topic": clickstream, "backend_topic": backend}
    threads = [threading.Thread(target=write, args=(k,), daemon=True) for k in range(WRITERS)]
    follower = threading.Thread(target=follow_journeys, daemon=True)
    for thread in [*threads, follower]:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done.set()
    follower.join(timeout=120)

    assert not [o["error"] for o in outcomes if "error" in o]
    assert not [s for s in journey_steps if isinstance(s, BaseException)]
    reports = [r for o in outcomes for r in o["reports"]]
    # no commit conflict among the writers, and they did write at the same time
    assert sum(r.conflicts_retried for r in reports) == 0
    assert not [w for o in outcomes for w in o["warnings"] if "conflict" in w]
    assert max(o["start"] for o in outcomes) < min(o["end"] for o in outcomes)
    assert sum(r.batches for r in reports) >= 2 * PARTITIONS * 2
    # raw counts and dead letters exact
    assert sum(r.stored for r in reports) == 4 * USERS
    assert sum(sum(r.dead_letters.values()) for r in reports) == PARTITIONS

    conn = connect(lake)
    try:
        last = update_journeys(conn, **topic_names)
        steps = [s for s in journey_steps if s.processed_anything] + [last]
        assert sum(s.raw_rows_read for s in steps) == 4 * USERS  # each raw row exactly once
        owners = dict(conn.execute("SELECT event_id, user_id FROM journey_events").fetchall())
        # sign-up, code run and the page view (moved to its user whatever commit came first)
        assert len(owners) == 3 * USERS and None not in owners.values()
        check = events_without_raw_event(conn, **topic_names)
        assert check.passed and check.checked == 3 * USERS
        [(users, meaningful)] = conn.execute(
            "SELECT count(*), sum(meaningful_days) FROM user_journeys"
        ).fetchall()
        assert (users, meaningful) == (USERS, USERS)
        rules = evaluate_rules(
            conn, now=datetime.now(UTC), thresholds=Thresholds.from_settings(), slack_enabled=False
        )
        assert rules.new_by_rule.get("new_signup") == USERS
        again = evaluate_rules(
            conn, now=datetime.now(UTC), thresholds=Thresholds.from_settings(), slack_enabled=False
        )
        assert sum(again.new_by_rule.values()) == 0
    finally:
        conn.close()
    with reading(lake) as conn:
        ledger = dict(
            conn.execute(
                "SELECT kafka_partition, next_offset FROM ingest_offsets WHERE topic = ?",
                [clickstream],
            ).fetchall()
        )
    assert ledger == ends[clickstream]


def test_the_sensor_plans_each_writers_partitions_and_holds_only_a_queued_writer(
    new_topics, produce, kafka_bootstrap, warehouse
):
    clickstream, backend = new_topics(partitions=PARTITIONS)
    for p in range(PARTITIONS):
        produce(clickstream, [page_view(f"a{p}", datetime.now(UTC).isoformat())], partition=p)
    kafka = KafkaResource(
        bootstrap_servers=kafka_bootstrap,
        clickstream_topic=clickstream,
        backend_topic=backend,
        writers=WRITERS,
    )
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor=None):
        context = dg.build_sensor_context(
            cursor=cursor, resources={"kafka": kafka, "warehouse": warehouse}, instance=instance
        )
        return ingest_sensor(context)

    result = tick()
    planned = {
        int(r.tags[WRITER_TAG]): sorted(
            c["partition"]
            for c in r.run_config["ops"]["raw_clickstream_events"]["config"]["ranges"]
        )
        for r in result.run_requests
    }
    assert planned == {0: [0, 3], 1: [1, 4], 2: [2, 5]}
    assert {r.job_name for r in result.run_requests} == {"ingest_raw_clickstream"}
    assert all("alerts" not in r.run_config["ops"] for r in result.run_requests)  # no live tail

    # Writer 1's run is queued (say its partition is slow): only its partitions wait.
    waiting = next(r for r in result.run_requests if r.tags[WRITER_TAG] == "1")
    instance.add_run(
        dg.DagsterRun(
            job_name=waiting.job_name,
            run_id=make_new_run_id(),
            status=dg.DagsterRunStatus.NOT_STARTED,
            tags=waiting.tags,
        )
    )
    for p in range(PARTITIONS):
        produce(clickstream, [page_view(f"b{p}", datetime.now(UTC).isoformat())], partition=p)
    second = tick(result.cursor)
    assert sorted(int(r.tags[WRITER_TAG]) for r in second.run_requests) == [0, 2]
    ranges = sorted(
        (c["partition"], c["start"], c["end"])
        for r in second.run_requests
        for c in r.run_config["ops"]["raw_clickstream_events"]["config"]["ranges"]
    )
    assert ranges == [(0, 1, 2), (2, 1, 2), (3, 1, 2), (5, 1, 2)]
