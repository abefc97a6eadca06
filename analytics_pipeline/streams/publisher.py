"""Publish a lake-derived stream to Kafka exactly once, with Kafka transactions.

A lake commit and a Kafka transaction are not atomic together, so the stream's position
lives in the topic itself: every record carries the lake position its publish covers (header
`analytics-position`, a journeys watermark). A publisher starting up first calls
`init_transactions` (which fences an older producer with the same transactional id and
settles its open transaction), then reads the last committed record of each partition
(`read_committed`): the highest position there is what the topic holds. It then publishes
what the lake has beyond it, one transaction per publish. Hence:

- the lake committed and the worker died before Kafka did: the next publisher finds the old
  position and publishes the batch (nothing lost);
- Kafka committed and the worker died: the next publisher finds the new position and skips
  it (nothing twice); a transaction left open is aborted by the fencing.

A topic that is missing or refuses writes never raises: the report says why it waits, and the
next call tries again (a missing topic is looked up again at most every `recheck_s`). A refusal
by the brokers' ACLs says which principal needs which ACL on what, since an operator cannot
read that off a bare TopicAuthorizationFailedError.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from analytics_pipeline.streams.records import StreamRecord

POSITION_HEADER = "analytics-position"
LAKE_HEADER = "analytics-lake"
REPLAY_HEADER = "analytics-replay"  # "true" on a replay's records (SPEC §10)
# How far back from a partition's end the position look-up reads at first (then 4x further):
# the last committed record is usually the one before the end (a commit marker takes one).
_LOOKBACK = 16


def transactional_id(topic: str, lake: str) -> str:
    """Stable per stream topic and lake: a second publisher of the topic fences the first."""
    return f"analytics-pipeline-stream-{topic}-{lake}"


class Pending(Protocol):
    after: int
    upto: int
    lake_watermark: int
    records: list[StreamRecord]


@dataclass
class PublishReport:
    """What one `publish_pending` call did."""

    records: int = 0
    transactions: int = 0
    position: int | None = None  # the lake position the topic holds, when known
    lake_watermark: int | None = None
    last_offsets: dict[int, int] = field(default_factory=dict)  # {partition: offset}
    waiting: str | None = None  # why nothing could be published (topic missing, refused…)
    seconds: float = 0.0

    @property
    def caught_up(self) -> bool:
        return (
            self.waiting is None
            and self.position is not None
            and self.lake_watermark is not None
            and self.position >= self.lake_watermark
        )


class StreamPublisher:
    """One transactional publisher of one topic (a stable transactional id per topic).

    `read_pending(after)` returns the next publish beyond lake position `after`;
    `make_producer(**config)` and `make_consumer(**config)` build kafka-python clients;
    `on_step(name)` is told "sent" (records sent, not committed) and "committed";
    `unavailable_errors`: more exceptions that mean "Kafka cannot be reached" (not raised);
    `principal`: who the brokers' ACLs see (named in the message when they refuse it);
    `make_admin(**config)`: a kafka-python admin client, to tell a missing topic from one an
    ACL hides from this client (without it, the message names both).
    """

    def __init__(
        self,
        *,
        topic: str,
        transactional_id: str,
        lake_id: str,
        read_pending: Callable[[int], Pending],
        make_producer: Callable[..., Any],
        make_consumer: Callable[..., Any],
        recheck_s: float = 10.0,
        max_block_ms: int = 5_000,
        on_step: Callable[[str], None] | None = None,
        unavailable_errors: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.monotonic,
        principal: str = "this client's principal",
        make_admin: Callable[..., Any] | None = None,
    ) -> None:
        self.topic = topic
        self.transactional_id = transactional_id
        self.lake_id = lake_id
        self._read_pending = read_pending
        self._make_producer = make_producer
        self._make_consumer = make_consumer
        self._recheck_s = recheck_s
        self._max_block_ms = max_block_ms
        self._on_step = on_step or (lambda _name: None)
        self._unavailable_errors = unavailable_errors
        self._clock = clock
        self.principal = principal
        self._make_admin = make_admin
        # What the publisher does to the topic now, for the message when an ACL refuses it.
        self._operation = "DESCRIBE"
        self._producer: Any = None
        self._position: int | None = None
        self._missing_since: float | None = None
        self._last_waiting: str | None = None
        self.last_offsets: dict[int, int] = {}

    # -- the public step ---------------------------------------------------------------------

    def publish_pending(self, max_publishes: int = 1_000) -> PublishReport:
        """Publish everything the lake has beyond the topic's position (bounded by
        `max_publishes` transactions). Never raises for Kafka trouble: see `waiting`."""
        from kafka.errors import KafkaError

        started = self._clock()
        report = PublishReport()
        if self._missing_since is not None and started - self._missing_since < self._recheck_s:
            report.waiting = self._last_waiting
            return report
        try:
            if self._producer is None and self._nothing_to_publish(report):
                report.position = report.lake_watermark
                report.last_offsets = dict(self.last_offsets)
                report.seconds = self._clock() - started
                return report
            self._ensure_ready()
            for _ in range(max_publishes):
                pending = self._read_pending(self._position or 0)
                report.lake_watermark = pending.lake_watermark
                if pending.records:
                    self._publish(pending)
                    report.records += len(pending.records)
                    report.transactions += 1
                self._position = pending.upto
                if pending.upto >= pending.lake_watermark:
                    break
        except (KafkaError, StreamUnavailableError, *self._unavailable_errors) as error:
            report.waiting = self._waiting(error)
            self._missing_since = self._clock()
            self._last_waiting = report.waiting
            self.close()
        else:
            self._missing_since = self._last_waiting = None
        report.position = self._position
        report.last_offsets = dict(self.last_offsets)
        report.seconds = self._clock() - started
        return report

    def close(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.close(timeout=2)
        self._producer = None
        self._position = None

    # -- steps -------------------------------------------------------------------------------

    def _nothing_to_publish(self, report: PublishReport) -> bool:
        """True when the topic already holds everything the lake has: checked without a
        producer, so a run with nothing new spares `init_transactions`. (A transaction of a
        zombie still open can only make the topic's true position higher.)"""
        position = self._read_position(self._partitions()) or 0
        pending = self._read_pending(position)
        report.lake_watermark = pending.lake_watermark
        return not pending.records and pending.upto >= pending.lake_watermark

    def _ensure_ready(self) -> None:
        if self._producer is not None:  # set only together with the position
            return
        partitions = self._partitions()
        self._read_position(partitions)  # refuses another lake's topic before fencing anyone
        producer = self._make_producer(
            transactional_id=self.transactional_id,
            max_block_ms=self._max_block_ms,
            allow_auto_create_topics=False,
            acks="all",
        )
        try:
            producer.init_transactions()  # fences a zombie, settles its open transaction
            # A topic that never had a record: nothing published yet.
            self._position = self._read_position(partitions) or 0
        except BaseException:
            with contextlib.suppress(Exception):
                producer.close(timeout=2)
            raise
        self._producer = producer

    def replay(self, records: list[StreamRecord], chunk: int = 5_000) -> int:
        """Republish `records` on this stream's own topic, marked as a replay.

        They go out in transactions under the stream's transactional id, so a live publisher
        is fenced meanwhile (it waits and takes over again on its next call), and each carries
        the position the topic already holds: the live stream's position is unchanged, and
        nothing is published twice or skipped by it. Returns the records sent. Raises on Kafka
        trouble (a replay is asked for by someone who wants to know)."""
        self._ensure_ready()
        headers = [
            (POSITION_HEADER, str(self._position or 0).encode()),
            (LAKE_HEADER, self.lake_id.encode()),
            (REPLAY_HEADER, b"true"),
        ]
        try:
            for begin in range(0, len(records), chunk):
                self._send_transaction(records[begin : begin + chunk], headers)
        finally:
            self.close()  # the live publisher takes the transactional id back
        return len(records)

    def _publish(self, pending: Pending) -> None:
        header = [
            (POSITION_HEADER, str(pending.upto).encode()),
            (LAKE_HEADER, self.lake_id.encode()),
        ]
        self._send_transaction(pending.records, header)

    def _send_transaction(
        self, records: list[StreamRecord], header: list[tuple[str, bytes]]
    ) -> None:
        producer = self._producer
        producer.begin_transaction()
        self._operation = "WRITE"
        try:
            offsets = _send_all(producer, self.topic, records, header, self._max_block_ms)
            self._on_step("sent")
            producer.commit_transaction()
        except BaseException:
            with contextlib.suppress(Exception):
                producer.abort_transaction()
            raise
        self.last_offsets.update(offsets)
        self._on_step("committed")

    def _partitions(self) -> list[int]:
        self._operation = "DESCRIBE"
        return topic_partitions(self._make_consumer, self.topic, make_admin=self._make_admin)

    def _read_position(self, partitions: list[int]) -> int | None:
        """The highest position header among the last committed records of the partitions."""
        self._operation = "READ"
        found, last_offsets = read_position(
            self._make_consumer, self.topic, partitions, lake_id=self.lake_id
        )
        self.last_offsets.update(last_offsets)
        return found

    def _waiting(self, error: BaseException) -> str:
        from kafka.errors import AuthorizationError

        if isinstance(error, AuthorizationError):
            return self._refused(error)
        text = str(error) or type(error).__name__
        return (
            f"cannot publish to Kafka topic {self.topic!r}: {type(error).__name__}: {text}. "
            f"Create the topic (3 partitions, cleanup.policy=delete; `make up` does it locally), "
            f"and on a secured Kafka allow {self.principal} to write it and to use "
            f"transactional id {self.transactional_id!r} (ACLs: READ, WRITE and DESCRIBE on "
            "the topic, WRITE and DESCRIBE on the transactional id, IDEMPOTENT_WRITE on the "
            "cluster). Publishing catches up by itself once it can."
        )

    def _refused(self, error: BaseException) -> str:
        """What to do when the brokers' ACLs refuse this client: the principal, the ACL it
        lacks and a kafka-acls command that grants it (the error alone names only a topic)."""
        from kafka.errors import (
            ClusterAuthorizationFailedError,
            TransactionalIdAuthorizationFailedError,
        )

        tid = self.transactional_id
        if isinstance(error, TransactionalIdAuthorizationFailedError):
            refused = f"WRITE on transactional id {tid!r}"
            grant = f"--transactional-id {tid} --operation Write --operation Describe"
        elif isinstance(error, ClusterAuthorizationFailedError):
            refused = "IDEMPOTENT_WRITE on the cluster"
            grant = "--cluster --operation IdempotentWrite"
        else:
            refused = f"{self._operation} on topic {self.topic!r}"
            grant = f"--topic {self.topic} --operation Write --operation Describe --operation Read"
        return (
            f"Kafka refuses {self.principal} {refused} ({type(error).__name__}), so the stream "
            f"waits; ingest, journeys and alerts go on. Allow it, or remove the DENY ACL that "
            f"matches it: kafka-acls.sh --bootstrap-server <broker> --add --allow-principal "
            f"{self.principal} {grant}. The publisher needs READ, WRITE and DESCRIBE on topic "
            f"{self.topic!r}, WRITE and DESCRIBE on transactional id {tid!r} and "
            "IDEMPOTENT_WRITE on the cluster. Publishing catches up by itself once it may, "
            "nothing missing and nothing twice."
        )


def topic_partitions(
    make_consumer: Callable[..., Any],
    topic: str,
    *,
    make_admin: Callable[..., Any] | None = None,
) -> list[int]:
    """The topic's partitions; StreamUnavailableError when it does not exist, and
    TopicAuthorizationFailedError when an ACL hides it from this client (a consumer's metadata
    leaves such a topic out, as if missing: `make_admin` asks for it by name to tell)."""
    consumer = make_consumer(group_id=None, allow_auto_create_topics=False)
    try:
        partitions = consumer.partitions_for_topic(topic)
    finally:
        consumer.close()
    if partitions:
        return sorted(partitions)
    if make_admin is None:
        raise StreamUnavailableError(
            f"topic {topic!r} does not exist (or an ACL hides it from this client: DESCRIBE)"
        )
    if _hidden_by_acl(make_admin, topic):
        from kafka.errors import TopicAuthorizationFailedError

        raise TopicAuthorizationFailedError({topic})
    raise StreamUnavailableError(f"topic {topic!r} does not exist")


def _hidden_by_acl(make_admin: Callable[..., Any], topic: str) -> bool:
    """True when the brokers answer TOPIC_AUTHORIZATION_FAILED for `topic` by name."""
    from kafka.errors import TopicAuthorizationFailedError

    admin = make_admin()
    try:
        described = admin.describe_topics([topic])
    finally:
        with contextlib.suppress(Exception):
            admin.close()
    return any(t.get("error_code") == TopicAuthorizationFailedError.errno for t in described)


def read_position(
    make_consumer: Callable[..., Any], topic: str, partitions: list[int], *, lake_id: str
) -> tuple[int | None, dict[int, int]]:
    """The stream position the topic holds (the highest `analytics-position` header among the
    last committed records of its partitions; None: nothing published yet) and the last
    committed offset per partition. Refuses a topic of another lake or of another writer."""
    from kafka import TopicPartition

    consumer = make_consumer(
        group_id=None,
        isolation_level="read_committed",
        enable_auto_commit=False,
        allow_auto_create_topics=False,
    )
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = consumer.end_offsets(tps)  # the last stable offsets under read_committed
        begins = consumer.beginning_offsets(tps)
        found: int | None = None
        last_offsets: dict[int, int] = {}
        for tp in tps:
            last = _last_committed(consumer, tp, begins[tp], ends[tp])
            if last is None:
                continue
            last_offsets[tp.partition] = last.offset
            lake = _header(last, LAKE_HEADER)
            if lake is not None and lake != lake_id:
                raise StreamUnavailableError(
                    f"topic {topic!r} holds the stream of another lake ({lake}; this "
                    f"lake is {lake_id}); give each lake a topic of its own"
                )
            position = _position_of(last)
            if position is None:
                raise StreamUnavailableError(
                    f"topic {topic!r} holds records this pipeline did not publish "
                    f"(no {POSITION_HEADER} header); give the stream a topic of its own"
                )
            found = position if found is None else max(found, position)
        if found is None and any(begins[tp] > 0 for tp in tps):
            raise StreamUnavailableError(
                f"topic {topic!r} lost its records to retention, so its position is "
                "unknown; recreate the topic to republish from the lake"
            )
        return found, last_offsets
    finally:
        consumer.close()


def replay_to_topic(
    records: list[StreamRecord],
    *,
    topic: str,
    lake_id: str,
    make_producer: Callable[..., Any],
    max_block_ms: int = 10_000,
) -> dict[int, int]:
    """Publish a replay on a topic of the user's choice (not the live stream's): idempotent
    writes, every record acknowledged by all in-sync replicas; the topic must exist. Returns
    the last offset written per partition."""
    producer = make_producer(
        acks="all",
        enable_idempotence=True,
        max_block_ms=max_block_ms,
        allow_auto_create_topics=False,
    )
    from kafka.errors import KafkaTimeoutError

    headers = [(LAKE_HEADER, lake_id.encode()), (REPLAY_HEADER, b"true")]
    try:
        try:
            known = producer.partitions_for(topic)
        except KafkaTimeoutError:
            known = None
        if not known:
            raise StreamUnavailableError(
                f"topic {topic!r} does not exist; create it first (the replay does not create "
                "topics, so a typo never makes a new one)"
            )
        return _send_all(producer, topic, records, headers, max_block_ms)
    finally:
        with contextlib.suppress(Exception):
            producer.close(timeout=2)


def _send_all(
    producer: Any,
    topic: str,
    records: list[StreamRecord],
    headers: list[tuple[str, bytes]],
    max_block_ms: int,
) -> dict[int, int]:
    """Send every record, wait until each is acknowledged; the last offset per partition."""
    futures = [
        producer.send(topic, key=r.key.encode(), value=r.value, headers=headers) for r in records
    ]
    producer.flush(timeout=max_block_ms / 1000 * 6)
    offsets: dict[int, int] = {}
    for future in futures:
        meta = future.get(timeout=max_block_ms / 1000)
        offsets[meta.partition] = max(offsets.get(meta.partition, -1), meta.offset)
    return offsets


class StreamUnavailableError(RuntimeError):
    """The stream topic cannot take records now (missing, unreadable position)."""


def _header(record: Any, wanted: str) -> str | None:
    for name, value in reversed(record.headers or []):
        if name == wanted:
            return value.decode()
    return None


def _position_of(record: Any) -> int | None:
    value = _header(record, POSITION_HEADER)
    return int(value) if value is not None else None


def _last_committed(
    consumer: Any, tp: Any, begin: int, end: int, timeout_s: float = 10.0
) -> Any | None:
    """The last committed record of one partition below `end`, or None if there is none
    (reads backwards in growing windows: aborted records and commit markers take offsets)."""
    window = _LOOKBACK
    stop = end
    while stop > begin:
        start = max(begin, stop - window)
        consumer.assign([tp])
        consumer.seek(tp, start)
        last: Any = None
        deadline = time.monotonic() + timeout_s
        while consumer.position(tp) < stop and time.monotonic() < deadline:
            for record in consumer.poll(timeout_ms=200).get(tp, []):
                if record.offset < stop:
                    last = record
        if last is not None:
            return last
        if consumer.position(tp) < stop:
            raise StreamUnavailableError(f"reading {tp.topic}[{tp.partition}] timed out")
        stop = start
        window *= 4
    return None
