"""The pipeline spread over hosts on a real network (network namespaces on one bridge)."""

from __future__ import annotations

import socket

import pytest

from analytics_pipeline_tests.multihost.cluster import Cluster
from analytics_pipeline_tests.multihost.store import PG_PORT, REDIS_PORT, S3_PORT, SLACK_PORT


@pytest.mark.timeout(300)
def test_store_services_answer_from_another_host_and_only_on_the_store_address(
    multihost: Cluster,
) -> None:
    store = multihost.store
    # wait_ready() reached all four from `client`; loopback on client has none of them.
    for port in (PG_PORT, S3_PORT, REDIS_PORT, SLACK_PORT):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, port
    assert store.slack.messages() == []
    for process in store.processes:
        assert multihost.net.host_of(process.pid) == "store", process.name
    brokers = multihost.brokers
    for node, process in brokers.processes.items():
        assert multihost.net.host_of(process.pid) == node
    brokers.make_topics(["mh-probe"], partitions=3)
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=brokers.bootstrap, acks="all")
    for i in range(30):
        producer.send("mh-probe", f"m{i}".encode())
    producer.flush(timeout=30)
    producer.close()
    assert brokers.end_offsets("mh-probe") == 30
    print(f"MULTIHOST timings {multihost.timings}")
