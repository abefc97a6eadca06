"""How to reach Kafka: one description of the connection, translated for each client library.

Modelled on Quix Streams' `ConnectionConfig`: the bootstrap servers, the security protocol and
SASL credentials live in one immutable value built from the settings, which renders them for
kafka-python (the pipeline, the dashboard, the devstack) and librdkafka (the simulator's fast
path). The password never appears in its repr or in any error this module raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from analytics_pipeline.settings import Settings

# An acknowledged message is on every in-sync replica (at least min.insync.replicas of them),
# and a retried send is stored once: a broker dying mid-stream loses and doubles nothing.
# (kafka-python names, then librdkafka's.)
DURABLE_PRODUCER: dict[str, Any] = {"acks": "all", "enable_idempotence": True}
DURABLE_PRODUCER_LIBRDKAFKA: dict[str, Any] = {"acks": "all", "enable.idempotence": True}


class KafkaUnavailableError(RuntimeError):
    """Kafka did not answer; the message names the bootstrap servers, never credentials."""


class MissingTopicError(RuntimeError):
    """A configured topic does not exist on the brokers; the message names it and the variable."""


@dataclass(frozen=True)
class ConnectionConfig:
    """The brokers and how to authenticate to them (SPEC §2's KAFKA_* variables)."""

    bootstrap_servers: str = Settings.kafka_bootstrap_servers
    security_protocol: str = Settings.kafka_security_protocol
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionConfig:
        return cls(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=settings.kafka_sasl_password,
        )

    def with_servers(self, bootstrap_servers: str) -> ConnectionConfig:
        """The same credentials against other brokers (the simulator's --bootstrap-servers)."""
        return replace(self, bootstrap_servers=bootstrap_servers)

    @property
    def servers(self) -> list[str]:
        return [server.strip() for server in self.bootstrap_servers.split(",") if server.strip()]

    def kafka_python(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaConsumer, KafkaProducer, KafkaAdminClient."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        return {**config, **overrides}

    @property
    def principal(self) -> str:
        """Who the brokers' ACLs see, for messages that say which ACL to add (no secret): the
        SASL user, or User:ANONYMOUS on PLAINTEXT. With TLS client certificates Kafka takes the
        certificate's distinguished name, which this configuration does not know."""
        if self.sasl_mechanism and self.sasl_username:
            return f"User:{self.sasl_username}"
        if self.security_protocol.upper() == "SSL":
            return "User:<your client certificate's distinguished name>"
        return "User:ANONYMOUS"

    def librdkafka(self, **overrides: Any) -> dict[str, Any]:
        """A configuration dict for confluent-kafka (librdkafka's dotted names)."""
        config: dict[str, Any] = {
            "bootstrap.servers": ",".join(self.servers),
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config.update(
                {
                    "sasl.mechanism": self.sasl_mechanism,
                    "sasl.username": self.sasl_username,
                    "sasl.password": self.sasl_password,
                }
            )
        return {**config, **overrides}

    def unavailable(self, error: BaseException) -> KafkaUnavailableError:
        """The error to raise when the brokers did not answer: what to check, no secret."""
        return KafkaUnavailableError(
            f"Kafka at {self.bootstrap_servers} did not answer ({type(error).__name__}). "
            "Check KAFKA_BOOTSTRAP_SERVERS and that the brokers are reachable "
            "(locally: `make up`)."
        )

    def missing_topic(self, topic: str, variable: str) -> MissingTopicError:
        return MissingTopicError(
            f"Kafka topic {topic!r} does not exist on {self.bootstrap_servers}. Check the "
            f"spelling of {variable}, or create the topic (locally `make up` creates the "
            "default topics); nothing is ingested from it until it exists."
        )
