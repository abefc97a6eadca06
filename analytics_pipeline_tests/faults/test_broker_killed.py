"""One broker of a three-broker cluster killed with SIGKILL while a producer streams and the
daemon ingests, then started again: every acknowledged message is stored exactly once, the
producer and the runs go on with no manual action, and the journey stream the runs publish on
the same cluster (Kafka transactions) holds every journey action once (SPEC §10).

The cluster is the session's own (`kafka_cluster`, its own ports), so this test never touches
the shared broker, and runs beside the other tests. Topics have 3 replicas and
min.insync.replicas=2, the producer acks=all and is idempotent: what the cluster acknowledged is
on two brokers at least, so losing one loses nothing.
"""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Any

import pytest
from kafka import KafkaProducer

from analytics_pipeline.clients.kafka import DURABLE_PRODUCER, ConnectionConfig
from analytics_pipeline.warehouse import connect, reading
from analytics_pipeline_tests.faults.conftest import Pipeline, page_view
from analytics_pipeline_tests.fixtures.kafka_cluster import KafkaCluster
from analytics_pipeline_tests.fixtures.stack import (
    REPO_ROOT,
    VENV_BIN,
    encode_value,
    unique_topic_name,
    wait_until,
)
from analytics_pipeline_tests.streams.stream_reader import (
    action_ids,
    apply,
    lake_journey,
    read_committed,
)

FIRST = 100  # messages that start the first ingest run
BEFORE, DOWN, BACK = 200, 200, 100  # acknowledged messages before the kill, while down, after


class Stream:
    """Produces page views (s0, s1, ...) every ~10 ms in a thread until stopped, and records
    which ones the cluster acknowledged."""

    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.acked: set[str] = set()
        self.failed: list[str] = []
        self.sent = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="broker-kill-stream", daemon=True)

    def _ack(self, event_id: str) -> Any:
        def done(_metadata: Any) -> None:
            with self._lock:
                self.acked.add(event_id)

        return done

    def _fail(self, event_id: str) -> Any:
        def failed(error: Exception) -> None:
            with self._lock:
                self.failed.append(f"{event_id}: {type(error).__name__}: {error}")

        return failed

    def send(self, event_id: str) -> None:
        future = self.producer.send(self.topic, value=encode_value(page_view(event_id)))
        future.add_callback(self._ack(event_id)).add_errback(self._fail(event_id))

    def _run(self) -> None:
        while not self.stop.is_set():
            self.send(f"s{self.sent}")
            self.sent += 1
            self.stop.wait(0.01)
        self.producer.flush(timeout=180)

    def wait_acks(self, count: int, timeout: float, message: str) -> None:
        wait_until(lambda: self.count() >= count, timeout=timeout, interval=0.1, message=message)

    def count(self) -> int:
        with self._lock:
            return len(self.acked)


def stored_ids(p: Pipeline) -> list[str]:
    with reading(p.lake) as conn:
        rows = conn.execute("SELECT event_id FROM raw_clickstream_events").fetchall()
    return [row[0] for row in rows]


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_a_broker_killed_mid_stream_loses_and_doubles_no_acknowledged_message(
    kafka_cluster: KafkaCluster, lake, lake_env, dagster_daemon, dagster_instance, tmp_path
):
    phases = [("start", time.monotonic())]
    # The daemon starts while the cluster does (its first ticks find no topics yet).
    clickstream, backend = unique_topic_name("clickstream"), unique_topic_name("backend")
    journeys = unique_topic_name("journeys")
    connect(lake).close()  # the lake and its tables exist before the first run
    daemon = dagster_daemon(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_cluster.bootstrap,
            "ANALYTICS_CLICKSTREAM_TOPIC": clickstream,
            "ANALYTICS_BACKEND_TOPIC": backend,
            "ANALYTICS_JOURNEY_TOPIC": journeys,
            **lake_env,
            "ANALYTICS_REPORTS_DIR": str(tmp_path / "reports"),
            "SLACK_BOT_TOKEN": "",
        }
    )
    admin = kafka_cluster.admin()
    phases.append(("cluster", time.monotonic()))
    try:
        kafka_cluster.make_topic(admin, clickstream)
        kafka_cluster.make_topic(admin, backend)
        kafka_cluster.make_topic(admin, journeys, partitions=3)
        assert len(kafka_cluster.partition(admin, clickstream)["replica_nodes"]) == 3

        p = Pipeline(clickstream, backend, lake, daemon, dagster_instance)
        producer = KafkaProducer(
            **ConnectionConfig(kafka_cluster.bootstrap).kafka_python(
                **DURABLE_PRODUCER, client_id="tests-broker-kill", linger_ms=5
            )
        )
        stream = Stream(producer, clickstream)
        try:
            for i in range(FIRST):
                stream.send(f"first{i}")
            producer.flush(timeout=60)

            def run_in_flight() -> bool:
                assert daemon.alive(), daemon.log_tail()
                return any(p.worker_pid(run.run_id) for run in p.in_flight())

            wait_until(run_in_flight, timeout=180, interval=0.2, message="no ingest run started")
            phases.append(("run", time.monotonic()))
            # Mid-stream, with an ingest run in flight: kill the partition's leader.
            stream.thread.start()
            stream.wait_acks(FIRST + BEFORE, timeout=60, message="the stream got no acks")
            victim = kafka_cluster.partition(admin, clickstream)["leader_id"]
            acked_at_kill = stream.count()
            kafka_cluster.kill(victim)
            phases.append(("kill", time.monotonic()))
            started = time.monotonic()
            # Two brokers left: the producer is still acknowledged (min.insync.replicas=2).
            stream.wait_acks(
                acked_at_kill + DOWN,
                timeout=120,
                message=f"no acknowledgement with node {victim} down: {stream.failed[:3]}",
            )
            phases.append(("acked_down", time.monotonic()))
            kafka_cluster.start()  # restarts the dead node only
            phases.append(("restarted", time.monotonic()))
            restart_s = time.monotonic() - started
            acked_at_restart = stream.count()
            stream.wait_acks(acked_at_restart + BACK, timeout=60, message="no acks once back")
            stream.stop.set()
            stream.thread.join(timeout=240)
            assert not stream.thread.is_alive(), "the stream did not finish"
        finally:
            stream.stop.set()
            producer.close(timeout=10)

        total = FIRST + stream.sent
        assert stream.failed == [], stream.failed[:5]
        assert len(stream.acked) == total
        # The restarted broker catches up and is in sync again.
        wait_until(
            lambda: len(kafka_cluster.partition(admin, clickstream)["isr_nodes"]) == 3,
            timeout=120,
            interval=1,
            message=f"node {victim} did not rejoin the in-sync replicas",
        )
    finally:
        admin.close()
    phases.append(("in_sync", time.monotonic()))

    stored = p.wait_ledger(total, timeout=240)
    phases.append(("ledger", time.monotonic()))
    p.wait_settled(timeout=120)
    ids = stored_ids(p)
    assert (stored.rows, stored.distinct_event_ids) == (total, total)
    assert set(ids) == stream.acked
    assert stored.dead_letters == 0
    phases.append(("settled", time.monotonic()))

    # The journey stream: a publish that met the dead broker waited and was retried by a later
    # micro-batch or run; one more message makes sure a run publishes whatever is left.
    with KafkaProducer(
        **ConnectionConfig(kafka_cluster.bootstrap).kafka_python(**DURABLE_PRODUCER)
    ) as nudge:
        nudge.send(clickstream, value=encode_value(page_view("nudge"))).get(timeout=60)
    p.wait_ledger(total + 1, timeout=240)
    p.wait_settled(timeout=120)
    with reading(p.lake) as conn:
        expected = lake_journey(conn)

    def published() -> list[Any] | None:
        records = read_committed(kafka_cluster.bootstrap, journeys, timeout_s=60)
        return records if apply(records) == expected else None

    records = wait_until(
        published, timeout=120, interval=2, message="the journey stream did not catch up"
    )
    stream_ids = action_ids(records)
    assert len(stream_ids) == len(set(stream_ids)), "a journey action published twice"
    assert set(stream_ids) == {(topic, event_id) for topic, event_id, *_ in expected}
    phases.append(("stream", time.monotonic()))
    print(" ".join(f"{name}={at - phases[0][1]:.1f}s" for name, at in phases))
    print(
        f"FAULTS broker SIGKILL: node {victim} (the leader) killed at {acked_at_kill} acks, "
        f"back after {restart_s:.1f}s; {len(ids)} acknowledged messages stored once"
    )


def test_the_cluster_starts_once_and_make_run_creates_its_topics_with_three_replicas(
    kafka_cluster: KafkaCluster,
):
    # After the broker-kill test in this file (which starts its daemon while the cluster starts).
    kafka_cluster.ready()
    pids = [kafka_cluster.pid(node) for node in (1, 2, 3)]
    started = time.monotonic()
    output = kafka_cluster.start()  # idempotent: every node runs already
    assert "starting node" not in output, output
    assert [kafka_cluster.pid(node) for node in (1, 2, 3)] == pids
    assert time.monotonic() - started < 30

    topic = unique_topic_name("devstack")
    # What `make run` does for the configured topics (devstack/run.sh).
    created = subprocess.run(
        [
            str(VENV_BIN / "python"),
            str(REPO_ROOT / "devstack" / "kafka_admin.py"),
            "--bootstrap",
            kafka_cluster.bootstrap,
            "create-topics",
            topic,
            "--partitions",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert f"topic {topic}: created" in created.stdout
    admin = kafka_cluster.admin()
    try:
        assert len(admin.describe_cluster()["brokers"]) == 3
        partitions = admin.describe_topics([topic])[0]["partitions"]
        assert sorted(len(p["replica_nodes"]) for p in partitions) == [3, 3]
    finally:
        admin.close()
    print(f"KAFKA_CLUSTER first start took {kafka_cluster.start_seconds:.1f}s")
