"""Small Kafka admin commands for the devstack scripts (run with the project's .venv python).

    kafka_admin.py --bootstrap 127.0.0.1:9092 ready [--timeout 10] [--brokers 1]
    kafka_admin.py --bootstrap 127.0.0.1:9092 create-topics NAME [NAME ...] [--partitions 3]

`ready` succeeds once the cluster answers a metadata request listing at least `--brokers`
brokers (an open port alone only proves the socket is up). `create-topics` is idempotent:
existing topics are left as they are; new ones get min(3, brokers) replicas, and the brokers'
own min.insync.replicas. The connection (SASL, SSL) comes from the KAFKA_* variables, through
the same code as the pipeline's clients, so `make run` can create topics on a managed Kafka.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaConfigurationError, KafkaError, TopicAlreadyExistsError

from analytics_pipeline.clients.kafka import ConnectionConfig
from analytics_pipeline.settings import ConfigError, load_settings


def connection(bootstrap: str) -> ConnectionConfig:
    """The KAFKA_* settings (only those: another variable's mistake is not Kafka's), with
    `bootstrap` as the brokers."""
    kafka_only = {name: value for name, value in os.environ.items() if name.startswith("KAFKA_")}
    return ConnectionConfig.from_settings(load_settings(kafka_only)).with_servers(bootstrap)


def admin_client(bootstrap: str, timeout_s: float) -> KafkaAdminClient:
    timeout_ms = max(int(timeout_s * 1000), 1000)
    config = connection(bootstrap).kafka_python(
        client_id="devstack", request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms
    )
    return KafkaAdminClient(**config)


def wait_ready(bootstrap: str, timeout_s: float, brokers: int = 1) -> dict:
    """Return the cluster description once it lists `brokers` brokers, or raise after
    timeout_s."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = admin_client(bootstrap, max(1.0, deadline - time.monotonic()))
            try:
                cluster = admin.describe_cluster()
            finally:
                admin.close()
            if len(cluster.get("brokers") or ()) >= brokers:
                return cluster
        except KafkaConfigurationError:
            raise
        except (KafkaError, OSError) as error:
            last_error = error
        time.sleep(0.3)
    raise TimeoutError(
        f"Kafka at {bootstrap} did not answer with {brokers} broker(s) within {timeout_s}s: "
        f"{last_error!r}"
    )


def create_topics(
    bootstrap: str, names: list[str], partitions: int, configs: dict[str, str] | None = None
) -> list[str]:
    """Create the topics that do not exist yet and wait until all of them have leaders."""
    admin = admin_client(bootstrap, 30)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            replicas = min(3, len(admin.describe_cluster()["brokers"]))
            one: dict = {"num_partitions": partitions, "replication_factor": replicas}
            if configs:
                one["configs"] = dict(configs)
            spec = {name: dict(one) for name in missing}
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently: fine
                admin.create_topics(spec)
        admin.wait_for_topics(names, timeout_ms=30_000)
        return missing
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    commands = parser.add_subparsers(dest="command", required=True)
    ready = commands.add_parser("ready", help="wait until the broker answers a metadata request")
    ready.add_argument("--timeout", type=float, default=10.0)
    ready.add_argument("--brokers", type=int, default=1, help="how many brokers must answer")
    create = commands.add_parser("create-topics", help="create topics that do not exist yet")
    create.add_argument("names", nargs="+")
    create.add_argument("--partitions", type=int, default=3)
    create.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE", help="a topic config"
    )
    args = parser.parse_args(argv)

    try:
        if args.command == "ready":
            cluster = wait_ready(args.bootstrap, args.timeout, args.brokers)
            print(f"kafka ready: cluster {cluster.get('cluster_id')}")
        else:
            configs = dict(item.split("=", 1) for item in args.config)
            created = create_topics(args.bootstrap, args.names, args.partitions, configs)
            for name in args.names:
                state = "created" if name in created else "exists"
                print(f"topic {name}: {state}")
    except (TimeoutError, KafkaError, OSError, ConfigError) as error:
        print(f"kafka_admin: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
