"""The journey topic refuses the stream's producer (an ACL, SPEC §10): events ingested from
Kafka still become journeys and Slack alerts, the stream's check fails naming the principal,
the ACL and the topic, and once the ACL is gone the next run publishes every action once.

It needs a broker with an authorizer: the devstack's single node (devstack/kafka/
server.properties.template; not a DEVSTACK_KAFKA_BROKERS=3 cluster, see there) has one that
allows everything a resource has no ACL for, so this test's ACLs on its own topic are the only
ones. On PLAINTEXT the pipeline's principal is User:ANONYMOUS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from analytics_pipeline.defs.alerts.assets import alerts
from analytics_pipeline.defs.ingest.assets import raw_backend_events, raw_clickstream_events
from analytics_pipeline.defs.journeys.assets import journeys
from analytics_pipeline.defs.streams.assets import journey_stream
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline_tests.fixtures.warehouse import warehouse_resource
from analytics_pipeline_tests.journeys.raw_events import (
    api,
    code_run,
    deployment,
    identify,
    is_clickstream,
    page_view,
    signup,
)
from analytics_pipeline_tests.streams.stream_reader import (
    action_ids,
    apply,
    check_format,
    lake_journey,
    read_committed,
)
from analytics_pipeline_tests.streams.test_journey_stream_asset import stream_outcome

PRINCIPAL = "User:ANONYMOUS"  # every PLAINTEXT client


def ago(minutes: float) -> str:
    """RFC 3339, `minutes` before now: recent enough for the alert rules' lookback."""
    ts = datetime.now(UTC) - timedelta(minutes=minutes)
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TopicAcls:
    """ACLs on one topic, added by the test and all deleted at teardown (they outlive a topic)."""

    def __init__(self, admin: Any, topic: str) -> None:
        from kafka.admin import ACLResourcePatternType, ResourcePattern, ResourceType

        self.admin = admin
        self.pattern = ResourcePattern(ResourceType.TOPIC, topic, ACLResourcePatternType.LITERAL)

    def add(self, operation: str, permission: str) -> None:
        from kafka.admin import ACL, ACLOperation, ACLPermissionType

        acl = ACL(
            PRINCIPAL, "*", ACLOperation[operation], ACLPermissionType[permission], self.pattern
        )
        try:
            result = self.admin.create_acls([acl])
        except Exception as error:  # a failure may be raised rather than listed
            result = {"failed": [(acl, error)]}
        if result["failed"]:
            pytest.fail(
                f"the broker refused to add an ACL ({result['failed']!r}). It needs an "
                "authorizer: the devstack's single-node broker has one "
                "(devstack/kafka/server.properties.template), a DEVSTACK_KAFKA_BROKERS cluster "
                "has none, and a broker started before that line was added has none either: "
                "restart it with `make down && make up`.",
                pytrace=False,
            )

    def delete_all(self) -> None:
        from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType

        self.admin.delete_acls(
            [ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY, self.pattern)]
        )


@pytest.fixture
def acls(kafka_admin: Any, make_topic: Any) -> Iterator[tuple[str, TopicAcls]]:
    """A journey topic of the test's own, and its ACLs (deleted before the topic is)."""
    topic = make_topic(3, suffix="journeys")
    on_topic = TopicAcls(kafka_admin, topic)
    try:
        yield topic, on_topic
    finally:
        on_topic.delete_all()


def test_a_topic_that_refuses_the_producer_holds_the_stream_not_ingest_and_it_catches_up(
    conn,
    lake,
    kafka_bootstrap,
    new_topics,
    produce,
    acls,
    slack_stub,
    slack_resource,
    dagster_instance,
):
    clickstream, backend = new_topics(1)
    topic, on_topic = acls
    kafka = KafkaResource(
        bootstrap_servers=kafka_bootstrap,
        clickstream_topic=clickstream,
        backend_topic=backend,
        journey_topic=topic,
        sensor_wait_seconds=0,
    )

    def run(events: list[dict]) -> tuple[dg.ExecuteInProcessResult, int]:
        """Produce `events` to the raw topics, then one run as an ingest run does it."""
        for event in events:
            produce(clickstream if is_clickstream(event) else backend, [event])
        result = dg.materialize(
            [raw_clickstream_events, raw_backend_events, journeys, journey_stream, alerts],
            instance=dagster_instance,
            resources={
                "warehouse": warehouse_resource(lake),
                "analytics": AnalyticsResource(),
                "kafka": kafka,
                "slack": slack_resource,
            },
        )
        assert result.success
        stored = 0
        for node in ("raw_clickstream_events", "raw_backend_events"):
            [ingested] = [
                m
                for m in result.asset_materializations_for_node(node)
                if m.asset_key == dg.AssetKey(node)
            ]
            stored += ingested.metadata["rows_added"].value
        return result, stored

    def signup_alerts() -> list[str]:
        return [m["text"] for m in slack_stub.messages("#portal-alerts")]

    # 1. A DENY WRITE ACL for the pipeline's principal on the topic. With an authorizer that
    #    allows what has no ACL, any ACL on a resource closes it to everything not allowed:
    #    the topic is hidden from the pipeline (no DESCRIBE either), as on a secured Kafka
    #    that never granted this client anything on it.
    on_topic.add("WRITE", "DENY")
    first = [
        page_view("a-r1", ago(12)),
        signup("u-r1", ago(11)),
        identify("a-r1", "u-r1", ago(11)),
        api(None, "GET", "/status", 503, ago(10)),
    ]
    hidden, stored = run(first)
    assert stored == len(first)  # ingest went on
    metadata, check = stream_outcome(hidden)
    assert not check.passed
    assert f"Kafka refuses {PRINCIPAL} DESCRIBE on topic {topic!r}" in check.description
    assert f"--allow-principal {PRINCIPAL} --topic {topic} --operation Write" in check.description
    assert "does not exist" not in check.description  # not mistaken for a missing topic
    assert metadata["records_published"] == 0
    assert any("`u-r1`" in text for text in signup_alerts())  # alerts went on

    # 2. The topic readable, writes still refused (a DENY beats an ALLOW): the transactional
    #    producer starts, its first send is refused and its transaction aborted.
    on_topic.add("ALL", "ALLOW")
    second = [code_run("u-r1", ago(9)), signup("u-r2", ago(8))]
    refused, stored = run(second)
    assert stored == len(second)
    metadata, check = stream_outcome(refused)
    assert not check.passed
    assert f"Kafka refuses {PRINCIPAL} WRITE on topic {topic!r}" in check.description
    assert "TopicAuthorizationFailedError" in check.description
    assert "remove the DENY ACL" in check.description
    assert metadata["records_published"] == 0 and metadata["publish_lag_batches"] == -1
    assert any("`u-r2`" in text for text in signup_alerts())
    assert read_committed(kafka_bootstrap, topic) == []  # nothing half-published

    # 3. The fix: the ACLs go. The next run publishes everything the lake has, once.
    on_topic.delete_all()
    third = [deployment("u-r2", "failed", ago(7))]
    fixed, stored = run(third)
    assert stored == len(third)
    metadata, check = stream_outcome(fixed)
    records = read_committed(kafka_bootstrap, topic)
    assert check.passed, check.description
    assert metadata["publish_lag_batches"] == 0
    assert metadata["records_published"] == len(records) > 0
    for record in records:
        check_format(record)
    ids = action_ids(records)
    assert len(ids) == len(set(ids))  # nothing twice
    assert apply(records) == lake_journey(conn)  # nothing missing
