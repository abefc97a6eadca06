"""Where simulated messages go: Kafka (the product's input) or a JSON-lines file (tests, demos).

JSON-lines format, one message per line:
    {"topic": "portal-clickstream", "key": "a-42-20261101-7-0", "value": {...}}
`value` is the exact message, embedded as JSON. A malformed message (not always valid
UTF-8 or JSON) is written as `"value_b64"` (base64 of its bytes) plus `"malformed"` (its
invalid kind) instead of `"value"`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections import deque
from pathlib import Path
from typing import Any, Protocol

from analytics_pipeline.clients.kafka import (
    DURABLE_PRODUCER,
    DURABLE_PRODUCER_LIBRDKAFKA,
    ConnectionConfig,
    KafkaUnavailableError,
)
from analytics_pipeline.simulate.malformed import Message

KAFKA_CLIENTS = ("auto", "confluent-kafka", "kafka-python")

# Batching for throughput: history mode hands the client hundreds of thousands of messages
# without waiting; they leave in large batches, never one flush per message. Every message is
# acknowledged by all in-sync replicas, and a retried batch is stored once (DURABLE_PRODUCER).
PRODUCER_TUNING: dict[str, Any] = {
    **DURABLE_PRODUCER,
    "linger_ms": 20,
    "batch_size": 512 * 1024,
    "max_block_ms": 30_000,
    "metrics_enabled": False,
}
# How long to wait for the brokers to answer at start before saying they are unreachable, and
# for one request.
CONNECT_TIMEOUT_MS = 10_000
REQUEST_TIMEOUT_MS = 10_000
# Values above the broker's ~1 MiB message limit (the `too_large` invalid kind) go through a
# second, gzip-compressing producer: compressed, the broker accepts them; consumers see the
# original >1 MiB value and must dead-letter it. (gzip: every Kafka client decodes it.)
# Being another producer, such a message may land out of order among its key's messages;
# the order of every other message of a key is kept (one key, one partition, one producer).
LARGE_VALUE_BYTES = 512 * 1024
LARGE_PRODUCER_TUNING: dict[str, Any] = {
    **PRODUCER_TUNING,
    "compression_type": "gzip",
    "max_request_size": 8 * 1024 * 1024,
    "linger_ms": 0,
}
_LARGE_MAX_BYTES = 8 * 1024 * 1024
_KEY_CACHE_LIMIT = 500_000
_CHECKPOINT_EVERY = 10_000
_CHECKPOINTS_IN_FLIGHT = 10


class SinkError(RuntimeError):
    """The sink cannot take messages; the text says what to fix."""


class Sink(Protocol):
    client: str

    def send(self, message: Message) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...

    @property
    def failed(self) -> int: ...

    @property
    def first_error(self) -> str | None: ...


class JsonLinesSink:
    """Writes messages to a file, one JSON object per line (see module docstring)."""

    client = "json-lines"

    def __init__(self, path: Path, topics: dict[str, str]) -> None:
        self.path = path
        self.topics = topics
        try:
            self._file = path.open("w", encoding="utf-8", buffering=1024 * 1024)
        except OSError as error:
            raise SinkError(f"cannot write {path}: {error.strerror}") from None
        self._topic_json = {kind: json.dumps(topic) for kind, topic in topics.items()}

    @property
    def failed(self) -> int:
        return 0

    @property
    def first_error(self) -> str | None:
        return None

    def send(self, message: Message) -> None:
        head = (
            f'{{"topic":{self._topic_json[message.kind]},"key":{json.dumps(message.key.decode())}'
        )
        if message.malformed is None:
            self._file.write(f'{head},"value":{message.value.decode()}}}\n')
        else:
            encoded = base64.b64encode(message.value).decode()
            self._file.write(
                f'{head},"malformed":"{message.malformed}","value_b64":"{encoded}"}}\n'
            )

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class _DeliveryFailures:
    """Counts messages the broker did not take; keeps the first error for the report."""

    def __init__(self) -> None:
        self.failed = 0
        self.first_error: str | None = None

    def record(self, error: object) -> None:
        self.failed += 1
        if self.first_error is None:
            self.first_error = str(error)


def _missing_topics(wanted: dict[str, str], existing: set[str], bootstrap: str) -> SinkError | None:
    missing = sorted(set(wanted.values()) - existing)
    if not missing:
        return None
    return SinkError(
        f"topic(s) {', '.join(missing)} do not exist on {bootstrap}; "
        "create them first (locally `make up` creates the default topics)"
    )


class KafkaPythonSink:
    """Produces with kafka-python (always installed; ~30k messages/s on one core)."""

    client = "kafka-python"

    def __init__(self, kafka: ConnectionConfig, topics: dict[str, str]) -> None:
        self.kafka = kafka
        self.topics = topics
        self._failures = _DeliveryFailures()
        self._producer = self._new_producer(PRODUCER_TUNING)
        self._large_producer: Any = None
        try:
            existing = self._existing_topics()
            problem = _missing_topics(topics, existing, kafka.bootstrap_servers)
            if problem:
                raise problem
            # Same partition as the default murmur2 partitioner, hashed once per key.
            self._partitions = {t: len(self._producer.partitions_for(t)) for t in topics.values()}
        except BaseException:
            self._producer.close(timeout=1)
            raise
        from kafka.errors import KafkaError
        from kafka.partitioner.default import murmur2

        self._kafka_error = KafkaError
        self._murmur2 = murmur2
        self._key_hash: dict[bytes, int] = {}
        # kafka-python 3 has no buffer limit: wait on every 10,000th message's delivery once
        # it is 100,000 messages old, so memory stays bounded when the broker is slower.
        self._checkpoints: deque[Any] = deque()
        self._sent = 0

    def _new_producer(self, tuning: dict[str, Any]) -> Any:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        config = self.kafka.kafka_python(
            **tuning, request_timeout_ms=REQUEST_TIMEOUT_MS, bootstrap_timeout_ms=CONNECT_TIMEOUT_MS
        )
        try:
            return KafkaProducer(**config)
        except KafkaError as error:
            raise self.kafka.unavailable(error) from None

    def _existing_topics(self) -> set[str]:
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        config = self.kafka.kafka_python(
            enable_auto_commit=False,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            bootstrap_timeout_ms=CONNECT_TIMEOUT_MS,
        )
        try:
            consumer = KafkaConsumer(**config)
        except KafkaError as error:
            raise self.kafka.unavailable(error) from None
        try:
            return set(consumer.topics())
        except KafkaError as error:
            raise self.kafka.unavailable(error) from None
        finally:
            consumer.close()

    @property
    def failed(self) -> int:
        return self._failures.failed

    @property
    def first_error(self) -> str | None:
        return self._failures.first_error

    def _on_error(self, error: Exception) -> None:
        self._failures.record(f"{type(error).__name__}: {error}")

    def send(self, message: Message) -> None:
        topic = self.topics[message.kind]
        if len(message.value) > LARGE_VALUE_BYTES:
            if self._large_producer is None:
                self._large_producer = self._new_producer(LARGE_PRODUCER_TUNING)
            future = self._large_producer.send(topic, value=message.value, key=message.key)
        else:
            hashed = self._key_hash.get(message.key)
            if hashed is None:
                if len(self._key_hash) > _KEY_CACHE_LIMIT:
                    self._key_hash.clear()
                hashed = self._key_hash[message.key] = self._murmur2(message.key) & 0x7FFFFFFF
            partition = hashed % self._partitions[topic]
            try:
                future = self._producer.send(
                    topic, value=message.value, key=message.key, partition=partition
                )
            except self._kafka_error as error:
                raise _stopped(self.kafka, error) from None
        future.add_errback(self._on_error)
        self._sent += 1
        if self._sent % _CHECKPOINT_EVERY == 0:
            self._checkpoints.append(future)
            if len(self._checkpoints) > _CHECKPOINTS_IN_FLIGHT:
                self._wait(self._checkpoints.popleft())

    @staticmethod
    def _wait(future: Any) -> None:
        """Block until `future` is delivered or failed (a failure is counted by its errback)."""
        with contextlib.suppress(Exception):
            future.get(timeout=PRODUCER_TUNING["max_block_ms"] / 1000)

    def flush(self) -> None:
        self._checkpoints.clear()
        self._producer.flush()
        if self._large_producer is not None:
            self._large_producer.flush()

    def close(self) -> None:
        for producer in (self._producer, self._large_producer):
            if producer is not None:
                producer.close(timeout=30)


class ConfluentKafkaSink:
    """Produces with confluent-kafka (librdkafka; ~10x kafka-python), when it is installed."""

    client = "confluent-kafka"

    def __init__(self, kafka: ConnectionConfig, topics: dict[str, str]) -> None:
        from confluent_kafka import KafkaException, Producer

        self.kafka = kafka
        self.topics = topics
        self._failures = _DeliveryFailures()
        self._config: dict[str, Any] = kafka.librdkafka(
            **DURABLE_PRODUCER_LIBRDKAFKA,
            **{
                "linger.ms": 20,
                "batch.size": 1_000_000,
                "queue.buffering.max.messages": 500_000,
                "queue.buffering.max.kbytes": 512 * 1024,
                "message.timeout.ms": 60_000,
                "partitioner": "murmur2_random",  # the Java client's (and kafka-python's) choice
                "on_delivery": self._on_delivery,
                # librdkafka would print every failed connection attempt; the CLI reports instead.
                "logger": logging.getLogger("analytics_pipeline.simulate.librdkafka"),
            },
        )
        self._kafka_exception = KafkaException
        self._producer = Producer(self._config)
        self._large_producer: Any = None
        self._since_poll = 0
        try:
            metadata = self._producer.list_topics(timeout=CONNECT_TIMEOUT_MS / 1000)
        except KafkaException as error:
            raise self.kafka.unavailable(error) from None
        problem = _missing_topics(topics, set(metadata.topics), kafka.bootstrap_servers)
        if problem:
            raise problem

    @property
    def failed(self) -> int:
        return self._failures.failed

    @property
    def first_error(self) -> str | None:
        return self._failures.first_error

    def _on_delivery(self, error: Any, message: Any) -> None:
        if error is not None:
            self._failures.record(f"{error.name()}: {error.str()}")

    def _large(self) -> Any:
        from confluent_kafka import Producer

        if self._large_producer is None:
            config = {
                **self._config,
                "compression.type": "gzip",
                "compression.level": 1,
                "message.max.bytes": _LARGE_MAX_BYTES,
                "linger.ms": 0,
            }
            self._large_producer = Producer(config)
        return self._large_producer

    def send(self, message: Message) -> None:
        topic = self.topics[message.kind]
        producer = self._producer
        if len(message.value) > LARGE_VALUE_BYTES:
            producer = self._large()
        while True:
            try:
                producer.produce(topic, message.value, message.key)
                break
            except BufferError:  # local queue full: let librdkafka drain it
                producer.poll(0.05)
            except self._kafka_exception as error:
                raise _stopped(self.kafka, error) from None
        self._since_poll += 1
        if self._since_poll >= 1000:
            self._since_poll = 0
            producer.poll(0)

    def flush(self) -> None:
        for producer in (self._producer, self._large_producer):
            if producer is not None:
                remaining = producer.flush(90)
                if remaining:
                    self._failures.failed += remaining
                    if self._failures.first_error is None:
                        self._failures.first_error = f"{remaining} still queued after 90 s"

    def close(self) -> None:
        self.flush()


def _stopped(kafka: ConnectionConfig, error: Exception) -> SinkError:
    return SinkError(
        f"Kafka at {kafka.bootstrap_servers} stopped accepting messages "
        f"({type(error).__name__}); is the broker still up?"
    )


def open_kafka_sink(kafka: ConnectionConfig, topics: dict[str, str], client: str = "auto") -> Sink:
    """A Kafka sink; `auto` takes confluent-kafka when it is installed, else kafka-python.

    Raises SinkError, with one line naming the bootstrap servers, when Kafka does not answer
    or a topic is missing.
    """
    from kafka.errors import KafkaError

    if client not in KAFKA_CLIENTS:
        raise ValueError(f"client must be one of {KAFKA_CLIENTS}")
    if client == "auto":
        try:
            import confluent_kafka  # noqa: F401
        except ImportError:
            client = "kafka-python"
        else:
            client = "confluent-kafka"
    try:
        if client == "confluent-kafka":
            return ConfluentKafkaSink(kafka, topics)
        return KafkaPythonSink(kafka, topics)
    except KafkaUnavailableError as error:
        raise SinkError(str(error)) from None
    except KafkaError as error:
        failure = f"Kafka at {kafka.bootstrap_servers} failed: {type(error).__name__}"
        raise SinkError(failure) from None
