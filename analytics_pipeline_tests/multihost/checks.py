"""What the multi-host test counts: messages produced and stored, alerts in the lake and at the
Slack stub, and the host each run's process ran on. Every figure comes from the agent on the
`client` host (agent.py); this process only asks, and looks up pids (`ip netns identify`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from analytics_pipeline_tests.multihost.agent import Agent
from analytics_pipeline_tests.multihost.network import Network

INGEST_TOPICS = ["portal-clickstream", "portal-backend"]
WORKER_HOST_NAMES = ("worker1", "worker2")


@dataclass(frozen=True)
class Stored:
    rows: int  # valid events, both raw tables
    distinct_event_ids: int  # per table, summed
    dead_letters: int
    distinct_dead_offsets: int
    ledger: int  # sum of ingest_offsets.next_offset: messages consumed

    @property
    def total(self) -> int:
        return self.rows + self.dead_letters


def produced(agent: Agent) -> int:
    return int(agent.call("produced", INGEST_TOPICS))


def stored(agent: Agent) -> Stored:
    return Stored(*agent.call("stored"))


def lake_alerts(agent: Agent) -> dict[str, str]:
    """alert_key -> status."""
    return dict(agent.call("lake_alerts"))


def posted_alert_keys(agent: Agent, channel: str) -> Counter[str]:
    """How many times each alert was posted (by the key in its message metadata)."""
    return Counter(agent.call("posted_alert_keys", channel))


def lake_files(agent: Agent) -> list[str]:
    """Every data and delete file the lake's current snapshot lists."""
    return list(agent.call("lake_files"))


def runs(agent: Agent, statuses: list[str] | None = None) -> list[dict[str, Any]]:
    """Each run's id, job name and status (`statuses`: DagsterRunStatus values)."""
    return list(agent.call("runs", statuses))


@dataclass
class RunHosts:
    """The host of each run's process, from the pid its worker recorded in the run's event log
    and `ip netns identify`, looked up while that process is alive (`record()` often)."""

    net: Network
    agent: Agent
    hosts: dict[str, str | None] = field(default_factory=dict)  # run id -> host
    workers: dict[str, str] = field(default_factory=dict)  # run id -> Celery node name

    def record(self) -> None:
        for run in runs(self.agent):
            if run["run_id"] in self.hosts:
                continue
            worker = self.agent.call("run_worker", run["run_id"])
            if worker is None:
                continue  # not started yet, or never: see unplaced()
            # Alive when the agent looked; if it died since, identify finds no namespace.
            host = self.net.host_of(worker["pid"]) if worker["alive"] else None
            self.hosts[run["run_id"]] = host
            self.workers[run["run_id"]] = worker["nodename"]

    def unplaced(self) -> list[str]:
        """Runs that started without a worker process we saw on a worker host (a run that
        never started, e.g. failed by run monitoring's start timeout, has no process)."""
        self.record()
        bad = []
        for run in runs(self.agent):
            run_id = run["run_id"]
            if run_id not in self.hosts and self.agent.call("never_started", run_id):
                continue
            host = self.hosts.get(run_id)
            if host not in WORKER_HOST_NAMES:
                bad.append(f"{run_id} {run['job_name']} {run['status']} host={host}")
        return bad
