"""Hosts `orch`, `worker1` and `worker2` of the multi-host test: dagster-daemon on one, a Celery
run worker on each of the others, all with one DAGSTER_HOME holding deploy/dagster.celery.yaml
as it ships (README, "Beyond one machine"), and the same environment, as a deployment would.

The workers are started as the README says (`celery -A analytics_pipeline.launcher.celery_worker
worker -Q dagster ...`), named `<host>@<namespace>`; each imports the code location before it
answers, so they start first, while the store and the brokers come up.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, VENV_BIN
from analytics_pipeline_tests.fixtures.workers import CELERY_YAML, WORKER_APP
from analytics_pipeline_tests.multihost.agent import Agent
from analytics_pipeline_tests.multihost.network import Network
from analytics_pipeline_tests.multihost.processes import HostProcess, spawn, wait_for

WORKER_HOSTS = ("worker1", "worker2")
WORKER_CONCURRENCY = 2
WORKER_READY_TIMEOUT_S = 120  # imports Dagster and the code location, on a loaded machine


@dataclass
class Orchestration:
    net: Network
    root: Path
    logs: Path
    env: Mapping[str, str]  # what every Dagster process gets (services, topics, lake, Slack)
    daemon: HostProcess | None = None
    workers: dict[str, HostProcess] = field(default_factory=dict)
    _starts: dict[str, int] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    def prepare_home(self) -> None:
        self.home.mkdir(exist_ok=True)
        shutil.copyfile(CELERY_YAML, self.home / "dagster.yaml")

    def nodename(self, host: str) -> str:
        return f"{host}@{self.net.ns(host)}"

    def start_worker(self, host: str) -> HostProcess:
        """A run worker on `host` (again, after a kill: a new log, the same node name)."""
        self._starts[host] = self._starts.get(host, 0) + 1
        argv = [str(VENV_BIN / "celery"), "-A", WORKER_APP, "worker", "-Q", "dagster"]
        argv += ["--concurrency", str(WORKER_CONCURRENCY), "-n", self.nodename(host)]
        argv += ["--prefetch-multiplier", "1", "--without-gossip", "--without-mingle"]
        argv += ["--loglevel", "INFO"]
        name = f"celery-{host}-{self._starts[host]}"
        self.workers[host] = spawn(self.net, host, name, argv, self.logs, self.env)
        return self.workers[host]

    def start_daemon(self) -> HostProcess:
        argv = [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")]
        self.daemon = spawn(self.net, "orch", "dagster-daemon", argv, self.logs, self.env)
        return self.daemon

    def wait_workers(self, agent: Agent, hosts: tuple[str, ...] = WORKER_HOSTS) -> None:
        """Each worker answers a ping through Redis, asked by the agent on another host."""
        for host in hosts:
            wait_for(
                f"the Celery worker on {host}",
                lambda host=host: agent.call("worker_answers", self.nodename(host)),
                WORKER_READY_TIMEOUT_S,
                [self.workers[host], agent],
                interval=0.5,
            )
