"""Kafka clients as a Dagster resource: the sensor's offset look-ups and the ingest consumer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg

from analytics_pipeline.clients.kafka import (
    DURABLE_PRODUCER,
    ConnectionConfig,
    KafkaUnavailableError,
    MissingTopicError,
)
from analytics_pipeline.settings import Settings

CONSUMER_GROUP = "analytics-pipeline"

__all__ = [
    "CONSUMER_GROUP",
    "KafkaResource",
    "KafkaUnavailableError",
    "MissingTopicError",
]


class KafkaResource(dg.ConfigurableResource):
    """Kafka clients and the topics, the one place the Dagster layer reads their names.

    Every default is the setting's (analytics_pipeline.settings); build_resources passes the
    values in effect.
    """

    bootstrap_servers: str = Settings.kafka_bootstrap_servers
    security_protocol: str = Settings.kafka_security_protocol
    sasl_mechanism: str | None = Settings.kafka_sasl_mechanism
    sasl_username: str | None = Settings.kafka_sasl_username
    sasl_password: str | None = Settings.kafka_sasl_password  # a secret: given as an EnvVar
    clickstream_topic: str = Settings.clickstream_topic
    backend_topic: str = Settings.backend_topic
    # The streams the pipeline publishes (ANALYTICS_JOURNEY_TOPIC, ANALYTICS_STAGE_TOPIC).
    # None: that stream is off (the resources built from the settings always name one).
    journey_topic: str | None = None
    stage_topic: str | None = None
    max_batch: int = Settings.ingest_max_batch
    # One batch (one lake transaction) closes at this many bytes of message values too, so a
    # burst of ~1 MiB messages never holds max_batch of them (ANALYTICS_INGEST_MAX_BATCH_BYTES).
    max_batch_bytes: int = Settings.ingest_max_batch_bytes
    # How long one ingest-sensor evaluation waits for new messages before it reports none
    # (ANALYTICS_INGEST_SENSOR_WAIT_SECONDS); 0 is the stock one look per tick.
    sensor_wait_seconds: int = Settings.ingest_sensor_wait_seconds
    # The live tail of every sensor-launched ingest run (ANALYTICS_INGEST_LIVE_SECONDS and
    # ANALYTICS_INGEST_LIVE_IDLE_SECONDS; ingest/live.py).
    live_seconds: int = Settings.ingest_live_seconds
    live_idle_seconds: int = Settings.ingest_live_idle_seconds
    # ANALYTICS_INGEST_WRITERS: raw-ingest runs that may commit at once (defs/ingest/writers.py).
    writers: int = Settings.ingest_writers
    # Client timeouts: tuning of the client, not settings a user changes (no variable).
    request_timeout_ms: int = 10_000
    bootstrap_timeout_ms: int = 8_000

    @property
    def topics(self) -> tuple[str, str]:
        return (self.clickstream_topic, self.backend_topic)

    def connection(self) -> ConnectionConfig:
        return ConnectionConfig(
            bootstrap_servers=self.bootstrap_servers,
            security_protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism,
            sasl_username=self.sasl_username,
            sasl_password=self.sasl_password,
        )

    @property
    def journey_topics(self) -> dict[str, str]:
        """The topic names journeys attribute raw rows to (keyword arguments of their SQL)."""
        return {"clickstream_topic": self.clickstream_topic, "backend_topic": self.backend_topic}

    def client_config(self) -> dict[str, Any]:
        return self.connection().kafka_python(
            request_timeout_ms=self.request_timeout_ms,
            bootstrap_timeout_ms=self.bootstrap_timeout_ms,
        )

    def consumer(self, **overrides: Any):  # -> kafka.KafkaConsumer
        """A consumer in group `analytics-pipeline` that never auto-commits."""
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        config = {
            **self.client_config(),
            "group_id": CONSUMER_GROUP,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "consumer_timeout_ms": 1000,
            **overrides,
        }
        try:
            return KafkaConsumer(**config)
        except KafkaError as error:
            raise self.unavailable(error) from None

    def producer(self, **overrides: Any):  # -> kafka.KafkaProducer
        """A producer whose acknowledged messages survive a broker's death (acks=all)."""
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        try:
            return KafkaProducer(**{**self.client_config(), **DURABLE_PRODUCER, **overrides})
        except KafkaError as error:
            raise self.unavailable(error) from None

    def admin(self, **overrides: Any):  # -> kafka.admin.KafkaAdminClient
        """An admin client; the stream publisher asks it whether a topic it cannot see is
        missing or hidden from it by an ACL (a consumer cannot tell the two apart)."""
        from kafka.admin import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            return KafkaAdminClient(**{**self.client_config(), **overrides})
        except KafkaError as error:
            raise self.unavailable(error) from None

    @property
    def principal(self) -> str:
        """The principal the brokers' ACLs see for this client (ConnectionConfig.principal)."""
        return self.connection().principal

    def end_offsets(self, topic: str, consumer: Any | None = None) -> dict[int, int]:
        """{partition: end offset} of `topic`; {} when the topic does not exist yet.

        Pass the run's own `consumer` to spare a second client (its connection and metadata
        cost ~0.1 s per ingest step); without one, a short-lived client is used and closed.
        """
        return self.topics_end_offsets([topic], consumer)[topic]

    def topics_end_offsets(
        self, topics: Iterable[str], consumer: Any | None = None
    ) -> dict[str, dict[int, int]]:
        """{topic: {partition: end offset}} of several topics in one ListOffsets request per
        broker ({} for a topic that does not exist yet): the long polls ask this several times
        a second, and a request per topic was most of an idle code server's Kafka traffic."""
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        own = consumer is None
        consumer = self.consumer(group_id=None) if own else consumer
        try:
            ends: dict[str, dict[int, int]] = {}
            wanted = []
            for topic in topics:
                ends[topic] = {}
                partitions = consumer.partitions_for_topic(topic) or ()
                wanted += [TopicPartition(topic, p) for p in sorted(partitions)]
            found = consumer.end_offsets(wanted) if wanted else {}
            for tp in wanted:  # in partition order, as asked
                ends[tp.topic][tp.partition] = found[tp]
            return ends
        except KafkaError as error:
            raise self.unavailable(error) from None
        finally:
            if own:
                consumer.close()

    def committed_offsets(self, topic: str, partitions: Any, consumer: Any) -> dict[int, int]:
        """{partition: offset} the ingest runs committed for group `analytics-pipeline`.

        A run commits after each stored batch, so this is how far the lake got, readable
        without opening it. Partitions the group never committed are left out. `consumer` must
        be in the group (`self.consumer()`); it never joins it (no subscribe, no poll).
        """
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        offsets = {}
        try:
            for partition in sorted(partitions):
                committed = consumer.committed(TopicPartition(topic, partition))
                if committed is not None:
                    offsets[partition] = committed
        except KafkaError as error:
            raise self.unavailable(error) from None
        return offsets

    def missing_topic(self, topic: str, variable: str) -> MissingTopicError:
        return self.connection().missing_topic(topic, variable)

    def unavailable(self, error: Exception) -> KafkaUnavailableError:
        return self.connection().unavailable(error)
