"""The multi-host test's whole topology: which hosts exist, what runs on each, and the
`multihost` fixture that builds it (and always takes it down, namespaces included).

    store    10.231.7.10   PostgreSQL, S3 (SeaweedFS), Redis, the Slack stub
    kafka1-3 10.231.7.21-23 one KRaft broker each (broker and controller)
    orch     10.231.7.30   dagster-daemon (sensors, queue, run monitoring, retries)
    worker1  10.231.7.41   a Celery run worker
    worker2  10.231.7.42   a Celery run worker
    client   10.231.7.50   the test itself (its main thread) and the traffic simulator
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from analytics_pipeline_tests.multihost.brokers import Brokers
from analytics_pipeline_tests.multihost.network import Network, remove_stale
from analytics_pipeline_tests.multihost.store import Store

HOSTS = {
    "store": 10,
    "kafka1": 21,
    "kafka2": 22,
    "kafka3": 23,
    "orch": 30,
    "worker1": 41,
    "worker2": 42,
    "client": 50,
}


@dataclass
class Cluster:
    net: Network
    root: Path
    logs: Path
    store: Store = field(init=False)
    brokers: Brokers = field(init=False)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = Store(self.net, self.root, self.logs)
        self.brokers = Brokers(self.net, self.root, self.logs)

    def start(self) -> None:
        began = time.monotonic()
        self.brokers.start()  # the slowest: JVMs
        self.store.start()
        self.store.wait_ready()
        self.timings["store_ready_s"] = time.monotonic() - began
        self.brokers.wait_ready()
        self.timings["brokers_ready_s"] = time.monotonic() - began


@pytest.fixture
def multihost(tmp_path: Path) -> Iterator[Cluster]:
    """The hosts, up; the test's thread runs on `client` until teardown."""
    remove_stale()
    net = Network(HOSTS)
    root = Path(tempfile.mkdtemp(prefix=f"{net.tag}-", dir="/tmp"))
    root.chmod(0o755)  # the postgres user keeps its cluster under it
    began = time.monotonic()
    try:
        net.create()
        with net.entered("client"):
            cluster = Cluster(net, root, tmp_path)
            cluster.start()
            cluster.timings["setup_s"] = time.monotonic() - began
            yield cluster
    finally:
        net.delete()
        shutil.rmtree(root, ignore_errors=True)
