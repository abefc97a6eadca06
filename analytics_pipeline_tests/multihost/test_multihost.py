"""The pipeline spread over hosts on a real network (network namespaces on one bridge): the
store, three brokers, the daemon's host and two run workers (cluster.py). Traffic comes from the
simulator on a host of its own; every message is stored once, every alert posted once, every
run's process is on a worker host, every lake file on S3. Then the worker host running an
ingest run dies in its middle (every process on it at once; worker1 when it holds one, else
worker2: Celery hands a run to either), and a broker after it: with nobody's help the run
fails, is retried on the other worker, and the counts are exact again, with a batch produced
while the broker is down. Every connection to a host is made by the agent on `client`."""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from typing import Any

import pytest

from analytics_pipeline_tests.fixtures.stack import VENV_BIN
from analytics_pipeline_tests.multihost.checks import (
    RunHosts,
    lake_alerts,
    lake_files,
    posted_alert_keys,
    produced,
    runs,
    stored,
)
from analytics_pipeline_tests.multihost.cluster import ALERTS_CHANNEL, Cluster
from analytics_pipeline_tests.multihost.processes import wait_for
from analytics_pipeline_tests.multihost.store import PG_PORT, REDIS_PORT, S3_PORT, SLACK_PORT

USERS = 20  # ~400 messages a batch, 2 % of them invalid
AUTO_RETRY_TAG = "dagster/auto_retry_run_id"
KILLED_BROKER = "kafka1"  # the first of every client's bootstrap list
RETRY_TIMEOUT_S = 60  # the retry daemon ticks every few seconds
# Each poll of the counts is a dozen catalog and run-storage queries through the agent: every
# 2 s, not every second, to spare the shared cores. A run's pool process outlives its run (no
# max tasks per child), so RunHosts still identifies every run's host.
POLL_S = 2.0


def assert_services_on_their_hosts(cluster: Cluster) -> None:
    # The store's services answered `client` (wait_ready); its loopback has none of them.
    ports = [PG_PORT, S3_PORT, REDIS_PORT, SLACK_PORT]
    assert cluster.agent.call("loopback_open", ports) == []
    assert cluster.net.host_of(cluster.agent.pid) == "client"
    for process in cluster.store.processes:
        assert cluster.net.host_of(process.pid) == "store", process.name
    for node, process in cluster.brokers.processes.items():
        assert cluster.net.host_of(process.pid) == node
    assert cluster.orch.daemon and cluster.net.host_of(cluster.orch.daemon.pid) == "orch"


def simulate(cluster: Cluster, seed: int) -> None:
    """A day of history for USERS people, from the `client` host, through every broker."""
    argv = [str(VENV_BIN / "analytics-pipeline"), "simulate", "--users", str(USERS)]
    argv += ["--days", "1", "--seed", str(seed), "--malformed-fraction", "0.02"]
    argv += ["--bootstrap-servers", cluster.brokers.bootstrap]
    result = subprocess.run(
        cluster.net.command("client", argv),
        cwd=cluster.logs,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"simulate failed:\n{result.stdout}\n{result.stderr}"


def wait_exact(cluster: Cluster, hosts: RunHosts, timeout: float) -> tuple[int, int]:
    """Until every produced message is consumed and every alert of the lake posted; then
    assert each was stored once and posted once. Returns (messages, alerts)."""
    agent = cluster.agent
    # (a broker may have just died: the client's metadata may need a retry)
    expected = wait_for("the topics' end offsets", lambda: produced(agent), 60, [agent])
    seen: dict[str, object] = {}

    def settled() -> tuple[int, int] | None:
        cluster.orch.daemon.check()
        hosts.record()
        posted = posted_alert_keys(agent, ALERTS_CHANNEL)
        twice = {key: n for key, n in posted.items() if n > 1}
        assert not twice, f"alerts posted more than once: {twice}"
        seen["stored"] = now = stored(agent)
        alerts = lake_alerts(agent)
        sent = {key for key, status in alerts.items() if status == "sent"}
        seen["alerts"] = Counter(alerts.values())
        seen["posted, not sent"] = set(posted) - sent
        seen["sent, not posted"] = sent - set(posted)
        seen["runs"] = Counter(f"{r['job_name']} {r['status']}" for r in runs(agent))
        if now.ledger < expected or not alerts or len(sent) < len(alerts) or set(posted) != sent:
            return None
        return expected, len(sent)

    try:
        messages, alerts = wait_for(
            "every message stored, every alert posted",
            settled,
            timeout,
            watch=[agent],
            interval=POLL_S,
        )
    except AssertionError as error:
        raise AssertionError(f"{error}; {expected} produced; last seen {seen}") from None
    now = stored(agent)
    assert now.ledger == messages, now
    assert now.total == messages, f"{now} for {messages} produced"
    assert now.rows == now.distinct_event_ids, now
    assert now.dead_letters == now.distinct_dead_offsets > 0, now
    return messages, alerts


def started_run(cluster: Cluster, hosts: RunHosts) -> tuple[str, str] | None:
    """The id of an ingest run in progress whose process is on a worker host, and that host.
    Ingest only: its live tail runs until the topics have been quiet for 5 s, so it is still
    running after the random pause before the kill (a freshness check lasts about a second)."""
    cluster.orch.daemon.check()
    hosts.record()
    started = [r for r in runs(cluster.agent, ["STARTED"]) if r["job_name"].startswith("ingest")]
    placed = [(run["run_id"], hosts.hosts.get(run["run_id"])) for run in started]
    placed = sorted((p for p in placed if p[1] in ("worker1", "worker2")), key=lambda p: p[1])
    return placed[0] if placed else None


def retried_run(cluster: Cluster, run_id: str) -> dict[str, Any] | None:
    """The run's record once it has failed and the retry daemon has launched its retry."""
    record = cluster.agent.call("run_record", run_id)
    failed = record and record["status"] == "FAILURE" and record["tags"].get(AUTO_RETRY_TAG)
    return record if failed else None


def finished_run(cluster: Cluster, run_id: str) -> dict[str, Any] | None:
    record = cluster.agent.call("run_record", run_id)
    return record if record and record["finished"] else None


@pytest.mark.slow
@pytest.mark.timeout(720)  # 358 s measured at load average 40 on 2 cores
def test_the_pipeline_runs_across_hosts(multihost: Cluster) -> None:
    cluster = multihost
    began = time.monotonic()
    assert_services_on_their_hosts(cluster)
    hosts = RunHosts(cluster.net, cluster.agent)

    simulate(cluster, seed=1)
    messages, alerts = wait_exact(cluster, hosts, timeout=240)
    assert not hosts.unplaced(), hosts.unplaced()
    assert set(hosts.hosts.values()) <= {"worker1", "worker2"}
    files = lake_files(cluster.agent)
    assert files and all(path.startswith(cluster.lake.data_path) for path in files), files
    phase_one = time.monotonic() - began

    # A worker host dies in the middle of a run (every process on it at once), then a broker.
    simulate(cluster, seed=2)
    run_id, victim = wait_for(
        "an ingest run started on a worker",
        lambda: started_run(cluster, hosts),
        180,
        [cluster.agent],
        interval=0.5,
    )
    time.sleep(random.uniform(0.0, 1.0))  # a random point of the run
    hosts.record()  # its process, identified while alive
    killed = cluster.net.kill(victim)
    killed_at, killed_wall = time.monotonic(), time.time()
    cluster.net.kill(KILLED_BROKER)
    simulate(cluster, seed=3)  # producing goes on with a broker down

    messages, alerts = wait_exact(cluster, hosts, timeout=240)
    recovered = time.monotonic() - killed_at
    # The counts may be exact (other runs consumed the rest) before the retry daemon's tick.
    try:
        failed = wait_for(
            "the killed run to fail and be retried",
            lambda: retried_run(cluster, run_id),
            RETRY_TIMEOUT_S,
            [cluster.agent],
        )
    except AssertionError:
        record = cluster.agent.call("run_record", run_id)
        assert record["status"] == "FAILURE", record["status"]
        raise AssertionError(
            f"the run killed with {victim} failed, but no retry in {RETRY_TIMEOUT_S} s"
        ) from None
    noticed = failed["end_time"] - killed_wall
    retry_id = failed["tags"][AUTO_RETRY_TAG]
    retry = wait_for(
        "the retry to finish", lambda: finished_run(cluster, retry_id), 120, [cluster.agent]
    )
    assert retry["status"] == "SUCCESS", retry["status"]
    now = stored(cluster.agent)  # and the retry stored nothing twice
    assert now.ledger == now.total == messages and now.rows == now.distinct_event_ids, now
    survivor = ({"worker1", "worker2"} - {victim}).pop()
    hosts.record()
    assert hosts.hosts.get(retry_id) == survivor, hosts.hosts.get(retry_id)
    assert not hosts.unplaced(), hosts.unplaced()
    assert not cluster.net.pids(victim) and not cluster.net.pids(KILLED_BROKER)
    files = lake_files(cluster.agent)
    assert all(path.startswith(cluster.lake.data_path) for path in files), files
    print(
        f"MULTIHOST after killing {victim} ({len(killed)} processes) and {KILLED_BROKER}: "
        f"run {run_id} failed {noticed:.1f} s after, its retry succeeded on {survivor}; "
        f"{messages} messages, {alerts} alerts, exact {recovered:.1f} s after the kill"
    )
    print(
        f"MULTIHOST {messages} messages, {alerts} alerts, {len(hosts.hosts)} runs on "
        f"{sorted(set(hosts.hosts.values()))}, {len(files)} lake files on S3; "
        f"setup {cluster.timings}, first phase {phase_one:.1f} s, "
        f"test {time.monotonic() - began:.1f} s"
    )
