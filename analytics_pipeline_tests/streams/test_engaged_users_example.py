"""The example service (examples/engaged_users) on the real broker, with a scripted journey.

The journey goes to a fresh 3-partition topic in SPEC §10's format (every record checked against
docs/streams/), the service runs as its README says (`python -m examples.engaged_users`), and
its output topic must hold exactly the users the journey makes engaged: event time, not arrival
(everything is produced within a second), an out-of-order action, a browser's clicks that count
only once an `identified` record links it, one flag per user and day, and nothing from a
transaction the producer aborted (read_committed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, VENV_BIN, wait_until
from analytics_pipeline_tests.streams.schemas import validate_record

THRESHOLD = 5
APP_TIMEOUT_S = 25  # the service must have processed everything within this


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Journey:
    """Scripted journey records, each with the key SPEC §10 gives it, in publish order."""

    def __init__(self, start: datetime, event_prefix: str = "e-") -> None:
        self.start = start
        self.event_prefix = event_prefix
        self.records: list[tuple[str, dict[str, Any]]] = []
        self._offset = 0

    def at(self, minutes: float) -> datetime:
        return self.start + timedelta(minutes=minutes)

    def action(
        self,
        name: str,
        minutes: float,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        late: bool = False,
    ) -> dict[str, Any]:
        self._offset += 1
        clickstream = name in ("page_viewed", "clicked")
        record = {
            "schema": 1,
            "kind": "action",
            "action": name,
            "ts": utc(self.at(minutes)),
            "user_id": user_id,
            "anonymous_id": anonymous_id,
            "attributed_via": "user_id" if user_id else None,
            "source_topic": "portal-clickstream" if clickstream else "portal-backend",
            "source_event_id": f"{self.event_prefix}{self._offset}",
            "source_partition": 0,
            "source_offset": self._offset,
            "details": None,
            "late": late,
        }
        key = f"user:{user_id}" if user_id else f"anon:{anonymous_id}"
        self.records.append((key, record))
        return record

    def identified(self, anonymous_id: str, user_id: str, minutes: float) -> None:
        record = {
            "schema": 1,
            "kind": "identified",
            "anonymous_id": anonymous_id,
            "user_id": user_id,
            "previous_user_id": None,
            "linked_at": utc(self.at(minutes)),
            "link_event_id": f"link-{anonymous_id}",
        }
        self.records.append((f"anon:{anonymous_id}", record))
        self.records.append((f"user:{user_id}", record))


def expected_flag(user_id: str, window_end: datetime, actions: int = THRESHOLD) -> dict[str, Any]:
    return {
        "schema": 1,
        "kind": "engaged_user",
        "user_id": user_id,
        "day": window_end.strftime("%Y-%m-%d"),
        "actions": actions,
        "threshold": THRESHOLD,
        "window_start": utc(window_end - timedelta(hours=1)),
        "window_end": utc(window_end),
    }


def scripted_journey() -> tuple[Journey, list[tuple[str, dict[str, Any]]]]:
    """The journey and the flags (key, value) it must produce, in no particular order."""
    # Recent event times (the topics' retention is by record time), on whole milliseconds.
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
    j = Journey(start)
    # alice: four meaningful actions, then one that happened before the last (out of order).
    j.action("page_viewed", 0, user_id="alice", anonymous_id="a-alice")
    j.action("topic_created", 0, user_id="alice")
    j.action("code_run", 5, user_id="alice")
    j.action("code_run", 20, user_id="alice")
    j.action("deployment_started", 40, user_id="alice")
    j.action("deployment_completed", 30, user_id="alice", late=True)
    # bob: two clicks as an anonymous browser, then the link, then three meaningful actions.
    j.action("clicked", 0, anonymous_id="b-1")
    j.action("page_viewed", 1, anonymous_id="b-1")
    j.action("clicked", 2, anonymous_id="b-1")
    j.identified("b-1", "bob", 3)
    for minutes, name in ((10, "code_run"), (15, "code_run"), (20, "deployment_started")):
        j.action(name, minutes, user_id="bob")
    # carol: five meaningful actions, but the fifth two hours after the first.
    for minutes in (0, 10, 20, 30, 120):
        j.action("code_run", minutes, user_id="carol")
    # dave: a browser that clicks a lot and never logs in stays anonymous.
    for minutes in range(5):
        j.action("clicked", minutes, anonymous_id="d-1")
    # erin: five actions in ten minutes, one of them not counted.
    for minutes, name in enumerate(["code_run", "code_run", "logged_in", "code_run", "code_run"]):
        j.action(name, minutes, user_id="erin")
    # frank: ten actions in an hour: one flag for the day, at the fifth.
    for minutes in range(0, 50, 5):
        j.action("deployment_completed", minutes, user_id="frank")
    flags = [
        ("user:alice", expected_flag("alice", j.at(40))),
        ("user:bob", expected_flag("bob", j.at(20))),
        ("user:frank", expected_flag("frank", j.at(20))),
    ]
    return j, flags


def produce_aborted(bootstrap: str, topic: str, start: datetime) -> None:
    """mallory's five actions in a transaction that is aborted: a read_committed reader never
    sees them."""
    aborted = Journey(start, event_prefix="aborted-")
    for minutes in range(5):
        aborted.action("code_run", minutes, user_id="mallory")
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"tests-{uuid.uuid4().hex[:8]}"
    )
    try:
        producer.init_transactions()
        producer.begin_transaction()
        for key, record in aborted.records:
            validate_record(record)
            producer.send(topic, key=key.encode(), value=json.dumps(record).encode())
        producer.flush(timeout=30)
        producer.abort_transaction()
    finally:
        producer.close(timeout=10)


def committed(admin: Any, group: str) -> dict[TopicPartition, int]:
    """The group's committed offsets; none yet while the broker answers with a retriable error
    (its coordinator moving, say)."""
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    except KafkaError as error:
        if not error.retriable:
            raise
        return {}
    return {tp: meta.offset for tp, meta in offsets.items()}


class Consumed(NamedTuple):
    key: str
    value: dict[str, Any]
    partition: int
    offset: int


def partitions_of(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]


def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return consumer.end_offsets(partitions_of(consumer, topic))
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str) -> list[Consumed]:
    """Every committed record of `topic` (read_committed)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    try:
        partitions = partitions_of(consumer, topic)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[Consumed] = []
        deadline = time.monotonic() + 10
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end {ends}"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(
                    Consumed(r.key.decode(), json.loads(r.value), r.partition, r.offset)
                    for r in batch
                )
        return records
    finally:
        consumer.close()


@pytest.fixture
def cleanup_topics(kafka_admin: Any) -> Iterator[Callable[[str], None]]:
    """Deletes, at teardown, every topic whose name contains a registered fragment (the topics
    the service creates for itself: output, repartition and changelog topics)."""
    fragments: list[str] = []
    yield fragments.append
    names = [t for t in kafka_admin.list_topics() if any(f in t for f in fragments)]
    if names:
        kafka_admin.delete_topics(names, raise_errors=False)


def test_engaged_users_flags_exactly_the_engaged_users(
    kafka_bootstrap: str,
    kafka_admin: Any,
    make_topic: Callable[..., str],
    produce: Callable[..., Any],
    cleanup_topics: Callable[[str], None],
    tmp_path: Path,
) -> None:
    journey_topic = make_topic(3, suffix="journeys")
    run_id = uuid.uuid4().hex[:8]
    group = f"t-{run_id}-engaged"
    output_topic = f"t-{run_id}-engaged-users"
    cleanup_topics(run_id)

    journey, expected = scripted_journey()
    produce_aborted(kafka_bootstrap, journey_topic, journey.start)
    # A committed record after the aborted ones, so mallory's partition ends with data.
    journey.action("page_viewed", 0, user_id="mallory")
    for _key, record in journey.records:
        validate_record(record)
    for key, record in journey.records:
        produce(journey_topic, [record], key=key)

    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ANALYTICS_JOURNEY_TOPIC": journey_topic,
        "ENGAGED_OUTPUT_TOPIC": output_topic,
        "ENGAGED_CONSUMER_GROUP": group,
        "ENGAGED_THRESHOLD": str(THRESHOLD),
        "ENGAGED_WINDOW_MINUTES": "60",
        "ENGAGED_GRACE_MINUTES": "15",
        # Clicks count too, so that bob's anonymous clicks matter once he is identified.
        "ENGAGED_ACTIONS": "topic_created,code_run,deployment_started,deployment_completed,clicked",
        "ENGAGED_STATE_DIR": str(tmp_path / "state"),
    }
    stdout_path, stderr_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        service = subprocess.Popen(
            [str(VENV_BIN / "python"), "-m", "examples.engaged_users"],
            cwd=REPO_ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
        )

    def service_log() -> str:
        return stderr_path.read_text(errors="replace")[-3000:]

    def caught_up(ends: dict[TopicPartition, int]) -> bool:
        assert service.poll() is None, f"the service exited:\n{service_log()}"
        offsets = committed(kafka_admin, group)
        return all(offsets.get(tp, 0) >= end for tp, end in ends.items())

    def wait_for(ends: dict[TopicPartition, int], what: str) -> None:
        try:
            wait_until(lambda: caught_up(ends), timeout=APP_TIMEOUT_S, interval=0.5, message=what)
        except AssertionError as error:
            raise AssertionError(f"{error}; the service's log:\n{service_log()}") from None

    try:
        # Done when the group has committed the whole journey topic, then every record the
        # service wrote to its repartition topic meanwhile: its flags commit with those offsets.
        wait_for(end_offsets(kafka_bootstrap, journey_topic), "the journey was not processed")
        repartition = [
            t for t in kafka_admin.list_topics() if t.startswith("repartition__") and group in t
        ]
        assert len(repartition) == 1, repartition
        regrouped: dict[TopicPartition, int] = {}
        for record in read_all(kafka_bootstrap, repartition[0]):
            tp = TopicPartition(repartition[0], record.partition)
            regrouped[tp] = max(regrouped.get(tp, 0), record.offset + 1)
        wait_for(regrouped, "the actions regrouped by user were not processed")

        flags = [(r.key, r.value) for r in read_all(kafka_bootstrap, output_topic)]
        assert sorted(flags, key=str) == sorted(expected, key=str)
        printed = [json.loads(line) for line in stdout_path.read_text().splitlines() if line]
        assert sorted(printed, key=str) == sorted((value for _, value in expected), key=str)
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait(timeout=5)
    assert service.returncode == 0, service_log()
