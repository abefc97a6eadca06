"""One description of the Kafka connection serves every client: the pipeline's resource, the
dashboard, the simulator (kafka-python or librdkafka) and the devstack's admin commands."""

from __future__ import annotations

import subprocess
import sys

from analytics_pipeline.clients.kafka import ConnectionConfig
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.settings import load_settings

MANAGED = {
    "KAFKA_BOOTSTRAP_SERVERS": "b1.example.com:9096, b2.example.com:9096",
    "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "pipeline",
    "KAFKA_SASL_PASSWORD": "s3cr3t-kafka-password",
}


def test_a_managed_kafka_is_reached_the_same_way_by_both_client_libraries() -> None:
    connection = ConnectionConfig.from_settings(load_settings(MANAGED))

    assert connection.kafka_python(request_timeout_ms=5000) == {
        "bootstrap_servers": ["b1.example.com:9096", "b2.example.com:9096"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "pipeline",
        "sasl_plain_password": "s3cr3t-kafka-password",
        "request_timeout_ms": 5000,
    }
    assert connection.librdkafka() == {
        "bootstrap.servers": "b1.example.com:9096,b2.example.com:9096",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "pipeline",
        "sasl.password": "s3cr3t-kafka-password",
    }
    # The Dagster resource builds its clients from the same description.
    resource = KafkaResource(
        bootstrap_servers=connection.bootstrap_servers,
        security_protocol=connection.security_protocol,
        sasl_mechanism=connection.sasl_mechanism,
        sasl_username=connection.sasl_username,
        sasl_password=connection.sasl_password,
    )
    assert resource.connection() == connection
    assert resource.client_config()["sasl_plain_password"] == "s3cr3t-kafka-password"


def test_the_password_stays_out_of_reprs_and_errors() -> None:
    connection = ConnectionConfig.from_settings(load_settings(MANAGED))
    shown = [
        repr(connection),
        str(connection.unavailable(TimeoutError("no answer"))),
        str(connection.missing_topic("portal-backend", "ANALYTICS_BACKEND_TOPIC")),
    ]
    assert all("s3cr3t" not in text for text in shown), shown
    assert "b1.example.com:9096" in shown[1] and "KAFKA_BOOTSTRAP_SERVERS" in shown[1]


def test_the_simulator_reaches_kafka_without_importing_dagster() -> None:
    # Importing Dagster costs seconds at every `analytics-pipeline simulate` start. Nothing
    # listens on port 1: the sink fails at once, after building its whole client configuration.
    probe = """
import sys
from analytics_pipeline.settings import load_settings
from analytics_pipeline.simulate import command, sinks
sinks.CONNECT_TIMEOUT_MS = 1000
topics = {"clickstream": "c", "backend": "b"}
for client in ("kafka-python", "confluent-kafka"):
    try:
        command._kafka_sink(load_settings({}), "127.0.0.1:1", topics, client)
    except sinks.SinkError as error:
        print("refused:", error)
print(sorted(m for m in sys.modules if m == "dagster" or m.startswith("dagster.")))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "[]", result.stdout
    assert sum("refused: Kafka at 127.0.0.1:1" in line for line in lines) == 2, result.stdout
