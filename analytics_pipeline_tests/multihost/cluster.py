"""The multi-host test's whole topology: which hosts exist, what runs on each, and the
`multihost` fixture that builds it (and always takes it down, namespaces included).

    store    10.231.7.10    PostgreSQL, S3 (SeaweedFS), Redis, the Slack stub
    kafka1-3 10.231.7.21-23 one KRaft broker each (broker and controller)
    orch     10.231.7.30    dagster-daemon (sensors, queue, run monitoring, retries)
    worker1  10.231.7.41    a Celery run worker
    worker2  10.231.7.42    a Celery run worker
    client   10.231.7.50    the agent (every network call of the test) and the simulator

The test process itself stays in the machine's namespace and opens no connection to a host: it
starts processes on the hosts, kills them, and asks the agent (agent.py) for every figure.

Start order, to overlap the slow parts: the workers and the agent (imports) and the brokers
(JVMs) first, then the store; the daemon once PostgreSQL answers; the topics and the lake once
Kafka and S3 do.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics_pipeline.warehouse import Lake
from analytics_pipeline_tests.fixtures.s3 import s3_environment
from analytics_pipeline_tests.fixtures.slack import STUB_TOKEN
from analytics_pipeline_tests.multihost.agent import Agent
from analytics_pipeline_tests.multihost.brokers import Brokers
from analytics_pipeline_tests.multihost.network import SCRATCH, Network, remove_stale
from analytics_pipeline_tests.multihost.orchestration import WORKER_HOSTS, Orchestration
from analytics_pipeline_tests.multihost.store import BUCKET, Store

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
# The product's default topic names: nothing else uses these brokers.
TOPICS = ("portal-clickstream", "portal-backend", "portal-journeys", "portal-user-stages")
PARTITIONS = 3
ALERTS_CHANNEL = "#portal-alerts"
CLUSTER_KEY = pytest.StashKey["Cluster"]()


@dataclass
class Cluster:
    net: Network
    root: Path
    logs: Path
    store: Store = field(init=False)
    brokers: Brokers = field(init=False)
    orch: Orchestration = field(init=False)
    agent: Agent = field(init=False)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = Store(self.net, self.root, self.logs)
        self.brokers = Brokers(self.net, self.root, self.logs)
        self.orch = Orchestration(self.net, self.root, self.logs, self.env())
        slack = {"MULTIHOST_SLACK_URL": self.store.slack.url}
        self.agent = Agent(self.net, self.logs, {**self.env(), **slack})

    @property
    def lake(self) -> Lake:
        return Lake(
            catalog=self.store.lake_catalog,
            data_path=f"s3://{BUCKET}/analytics/",
            password=self.store.pg_password,
            s3=self.store.s3_access(),
        )

    def env(self) -> dict[str, str]:
        """What every Dagster process (daemon, workers, their runs) is configured with."""
        return {
            **self.store.pg_env(),
            "DAGSTER_HOME": str(self.root / "dagster_home"),
            "DAGSTER_CELERY_BROKER_URL": self.store.redis_url(0),
            "DAGSTER_CELERY_BACKEND_URL": self.store.redis_url(1),
            "KAFKA_BOOTSTRAP_SERVERS": self.brokers.bootstrap,
            **s3_environment(self.lake),
            "ANALYTICS_REPORTS_DIR": str(self.root / "reports"),
            # The funnel's catch-up computes yesterday and today only.
            "ANALYTICS_FUNNEL_START_DATE": (
                datetime.now(UTC).date() - timedelta(days=1)
            ).isoformat(),
            "SLACK_BOT_TOKEN": STUB_TOKEN,
            "SLACK_API_URL": self.store.slack.api_url,
            "SLACK_ALERTS_CHANNEL": ALERTS_CHANNEL,
            "ANALYTICS_BACKGROUND_NICENESS": "0",
            "ANALYTICS_INGEST_LIVE_IDLE_SECONDS": "5",
        }

    def start(self) -> None:
        began = time.monotonic()

        def mark(name: str) -> None:
            self.timings[name] = round(time.monotonic() - began, 1)

        self.orch.prepare_home()
        for host in WORKER_HOSTS:
            self.orch.start_worker(host)
        self.agent.start()
        self.brokers.start()
        self.store.start()
        self.store.wait_ready(self.agent)
        mark("store_ready_s")
        self.orch.start_daemon()
        self.brokers.wait_ready(self.agent)
        mark("brokers_ready_s")
        self.agent.call("make_topics", list(TOPICS), PARTITIONS)
        self.agent.call("connect_lake")  # the lake's tables, on S3, before the first run
        mark("lake_ready_s")
        self.orch.wait_workers(self.agent)
        mark("workers_ready_s")

    def log_tails(self) -> list[tuple[str, str]]:
        """(title, last lines) of every process's log, for a failing test's report."""
        processes = [*self.store.processes, *self.brokers.processes.values()]
        processes += [
            *self.orch.workers.values(),
            *([self.orch.daemon] if self.orch.daemon else []),
            self.agent,
        ]
        return [(f"{p.name} on {p.host} ({p.log})", p.log_tail()) for p in processes]


@pytest.fixture
def multihost(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """The hosts, up, with the agent on `client`; all taken down afterwards."""
    remove_stale()
    net = Network(HOSTS)
    root = Path(tempfile.mkdtemp(prefix=f"{net.tag}-", dir=SCRATCH))
    root.chmod(0o755)  # the postgres user keeps its cluster under it
    began = time.monotonic()
    cluster: Cluster | None = None
    try:
        net.create()
        cluster = Cluster(net, root, tmp_path)
        request.node.stash[CLUSTER_KEY] = cluster
        cluster.start()
        cluster.timings["setup_s"] = round(time.monotonic() - began, 1)
        yield cluster
    finally:
        if cluster is not None:
            cluster.agent.stop()
        net.delete()
        shutil.rmtree(root, ignore_errors=True)
