"""The pipeline spread over hosts on a real network (network namespaces on one bridge):
store, three brokers, the daemon's host and two run workers (cluster.py)."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime

import dagster as dg
import pytest

from analytics_pipeline.launcher.celery_launcher import recorded_run_worker
from analytics_pipeline_tests.multihost.cluster import Cluster
from analytics_pipeline_tests.multihost.processes import wait_for
from analytics_pipeline_tests.multihost.store import PG_PORT, REDIS_PORT, S3_PORT, SLACK_PORT


def signup(user_id: str) -> bytes:
    ts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    request = {"method": "POST", "path": "/auth/signup", "status": 201, "duration_ms": 12}
    event = {"event_id": uuid.uuid4().hex, "type": "api_request", "ts": ts, "user_id": user_id}
    import json

    return json.dumps({**event, "request": request}).encode()


def assert_services_on_their_hosts(cluster: Cluster) -> None:
    # The store's services answered `client` (wait_ready); its loopback has none of them.
    for port in (PG_PORT, S3_PORT, REDIS_PORT, SLACK_PORT):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, port
    for process in cluster.store.processes:
        assert cluster.net.host_of(process.pid) == "store", process.name
    for node, process in cluster.brokers.processes.items():
        assert cluster.net.host_of(process.pid) == node
    assert cluster.orch.daemon and cluster.net.host_of(cluster.orch.daemon.pid) == "orch"


@pytest.mark.timeout(600)
def test_the_pipeline_runs_across_hosts(multihost: Cluster) -> None:
    cluster = multihost
    began = time.monotonic()
    assert_services_on_their_hosts(cluster)
    instance = cluster.instance()
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=cluster.brokers.bootstrap, acks="all")
    producer.send("portal-backend", signup("mh-user-1"))
    producer.flush(timeout=30)
    producer.close()

    def ingest_succeeded() -> list[dg.DagsterRun]:
        cluster.orch.daemon.check()
        return list(instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS])))

    runs = wait_for("a successful run", ingest_succeeded, 180, interval=1)
    for run in runs:
        worker = recorded_run_worker(instance, run.run_id)
        assert worker is not None, f"run {run.run_id} ({run.job_name}) ran on no Celery worker"
        assert cluster.net.host_of(worker.process.pid) in ("worker1", "worker2"), worker
    print(f"MULTIHOST timings {cluster.timings}, test {time.monotonic() - began:.1f}s")
