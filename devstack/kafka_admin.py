"""Small Kafka admin commands for the devstack scripts (run with the project's .venv python).

    kafka_admin.py --bootstrap 127.0.0.1:9092 ready [--timeout 10]
    kafka_admin.py --bootstrap 127.0.0.1:9092 create-topics NAME [NAME ...] [--partitions 3]

`ready` succeeds once the broker answers a metadata request (an open port alone only proves
the socket is up). `create-topics` is idempotent: existing topics are left as they are.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaConfigurationError, KafkaError, TopicAlreadyExistsError


def admin_client(bootstrap: str, timeout_s: float) -> KafkaAdminClient:
    timeout_ms = int(timeout_s * 1000)
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="devstack",
        request_timeout_ms=max(timeout_ms, 1000),
        bootstrap_timeout_ms=max(timeout_ms, 1000),
    )


def wait_ready(bootstrap: str, timeout_s: float) -> dict:
    """Return the cluster description once the broker answers, or raise after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = admin_client(bootstrap, max(1.0, deadline - time.monotonic()))
            try:
                cluster = admin.describe_cluster()
            finally:
                admin.close()
            if cluster.get("brokers"):
                return cluster
        except KafkaConfigurationError:
            raise
        except (KafkaError, OSError) as error:
            last_error = error
        time.sleep(0.3)
    raise TimeoutError(f"Kafka at {bootstrap} did not answer within {timeout_s}s: {last_error!r}")


def create_topics(
    bootstrap: str, names: list[str], partitions: int, configs: dict[str, str] | None = None
) -> list[str]:
    """Create the topics that do not exist yet and wait until all of them have leaders."""
    admin = admin_client(bootstrap, 30)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            one: dict = {"num_partitions": partitions, "replication_factor": 1}
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
    create = commands.add_parser("create-topics", help="create topics that do not exist yet")
    create.add_argument("names", nargs="+")
    create.add_argument("--partitions", type=int, default=3)
    create.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE", help="a topic config"
    )
    args = parser.parse_args(argv)

    try:
        if args.command == "ready":
            cluster = wait_ready(args.bootstrap, args.timeout)
            print(f"kafka ready: cluster {cluster.get('cluster_id')}")
        else:
            configs = dict(item.split("=", 1) for item in args.config)
            created = create_topics(args.bootstrap, args.names, args.partitions, configs)
            for name in args.names:
                state = "created" if name in created else "exists"
                print(f"topic {name}: {state}")
    except (TimeoutError, KafkaError, OSError) as error:
        print(f"kafka_admin: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
