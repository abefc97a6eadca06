"""Hosts `kafka1`-`kafka3` of the multi-host test: one KRaft node each (broker and controller),
on port 9092 (controller 9093) of its host's address, from devstack/kafka's template and the
jars `make up` fetched (.devstack/kafka/libs). The three format and start side by side; topics
(made by the agent, agent.py) get 3 replicas, of which 2 must hold a message, so one broker
may die.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from analytics_pipeline_tests.fixtures.stack import REPO_ROOT
from analytics_pipeline_tests.multihost.agent import Agent
from analytics_pipeline_tests.multihost.network import Network
from analytics_pipeline_tests.multihost.processes import HostProcess, spawn, wait_for

KAFKA_DIR = REPO_ROOT / "devstack" / "kafka"
KAFKA_LIBS = REPO_ROOT / ".devstack" / "kafka" / "libs"
BROKER_PORT, CONTROLLER_PORT = 9092, 9093
NODES = ("kafka1", "kafka2", "kafka3")
# As the tests' 3-broker fixture: C1 only, which saves CPU at start-up on a busy machine.
HEAP = ["-Xms128m", "-Xmx320m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
READY_TIMEOUT_S = 180  # three JVMs at once on a loaded 2-core machine: 75 s at load 40


def kafka_uuid() -> str:
    """A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'."""
    while True:
        text = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not text.startswith("-"):
            return text


@dataclass
class Brokers:
    net: Network
    root: Path
    logs: Path
    processes: dict[str, HostProcess] = field(default_factory=dict)
    cluster_id: str = field(default_factory=kafka_uuid)
    directory_ids: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{self.net.address(node)}:{BROKER_PORT}" for node in NODES)

    def start(self) -> None:
        if not (KAFKA_LIBS / ".complete").exists():
            raise AssertionError(
                f"{KAFKA_LIBS} has no Kafka jars: devstack/kafka.sh fetches them when it starts "
                "this checkout's broker (make up); if another checkout's broker answers on "
                "9092 instead, copy that checkout's .devstack/kafka/libs here"
            )
        self.directory_ids = {node: kafka_uuid() for node in NODES}
        for node in NODES:
            self.processes[node] = self._start(node)

    def _java(self, node: str) -> list[str]:
        return [
            "java",
            *HEAP,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.root / node / 'logs'}",
            "-cp",
            f"{KAFKA_LIBS}/*",
        ]

    def _config(self, node: str) -> Path:
        home = self.root / node
        (home / "logs").mkdir(parents=True, exist_ok=True)
        address = self.net.address(node)
        quorum = ",".join(f"{self.net.address(n)}:{CONTROLLER_PORT}" for n in NODES)
        text = (KAFKA_DIR / "server.properties.template").read_text()
        for key, value in {
            "@NODE_ID@": str(NODES.index(node) + 1),
            "@QUORUM@": quorum,
            "@BROKER_PORT@": str(BROKER_PORT),
            "@CONTROLLER_PORT@": str(CONTROLLER_PORT),
            "@DATA_DIR@": str(home / "data"),
            "@REPLICAS@": "3",
            "@MIN_ISR@": "2",
            "@AUTHORIZER@": "",  # as devstack/kafka.sh renders a cluster: see the template
        }.items():
            text = text.replace(key, value)
        config = home / "server.properties"
        config.write_text(text.replace("127.0.0.1", address))
        return config

    def _start(self, node: str) -> HostProcess:
        """Format the node's storage if new (a JVM of its own), then run it, on its host."""
        config = self._config(node)
        voters = ",".join(
            f"{NODES.index(n) + 1}@{self.net.address(n)}:{CONTROLLER_PORT}:{self.directory_ids[n]}"
            for n in NODES
        )
        java = " ".join(f"'{part}'" for part in self._java(node))
        script = (
            f"set -e; {java} kafka.tools.StorageTool format --initial-controllers '{voters}' "
            f"-g -t '{self.cluster_id}' -c '{config}' >/dev/null; "
            f"exec {java} kafka.Kafka '{config}'"
        )
        return spawn(self.net, node, node, ["bash", "-c", script], self.logs)

    def wait_ready(self, agent: Agent, nodes: int = len(NODES)) -> None:
        """The cluster lists `nodes` brokers, as the agent on another host sees it."""
        watch = [*(p for p in self.processes.values() if p.alive()), agent]  # not one killed
        wait_for(
            f"{nodes} Kafka brokers",
            lambda: agent.call("brokers_listed") >= nodes,
            READY_TIMEOUT_S,
            watch,
            interval=0.5,
        )
