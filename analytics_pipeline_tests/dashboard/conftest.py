"""Dashboard fixtures: one seeded lake for the whole session (the tests only read it), its
Kafka topics with known end offsets, and the environment that points a subprocess at both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from analytics_pipeline.warehouse import Lake, connect
from analytics_pipeline.warehouse.connection import forget_schema
from analytics_pipeline.warehouse.lake import detach
from analytics_pipeline_tests.dashboard.world import seed_world
from analytics_pipeline_tests.fixtures.stack import StackInfo, durable_producer, unique_topic_name
from analytics_pipeline_tests.fixtures.warehouse import (
    drop_lake_schema,
    lake_environment,
    make_lake,
)

# Messages produced to each topic; the seeded ledger says 3 and 5 were ingested (world.py).
PRODUCED = {"clickstream": 5, "backend": 5}
LEDGER = {"clickstream": 3, "backend": 5}


@dataclass(frozen=True)
class SeededLake:
    lake: Lake
    today: date
    clickstream_topic: str
    backend_topic: str
    kafka_bootstrap: str

    def env(self) -> dict[str, str]:
        """The variables that point the CLI or the dashboard at this lake and these topics."""
        return {
            **lake_environment(self.lake),
            "ANALYTICS_CLICKSTREAM_TOPIC": self.clickstream_topic,
            "ANALYTICS_BACKEND_TOPIC": self.backend_topic,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            # never created: the health page says the stream's position is unknown, and why
            "ANALYTICS_JOURNEY_TOPIC": f"{self.clickstream_topic}-journeys-absent",
        }


@pytest.fixture(scope="session")
def dashboard_topics(kafka_admin: Any, kafka_bootstrap: str) -> Iterator[tuple[str, str]]:
    """A clickstream and a backend topic, one partition each, with PRODUCED messages."""
    names = (unique_topic_name("dash-clickstream"), unique_topic_name("dash-backend"))
    kafka_admin.create_topics(
        {name: {"num_partitions": 1, "replication_factor": 1} for name in names},
        wait_for_metadata=True,
    )
    producer = durable_producer(kafka_bootstrap, "tests-dashboard")
    try:
        for name, count in zip(names, PRODUCED.values(), strict=True):
            futures = [producer.send(name, value=b"{}", partition=0) for _ in range(count)]
            producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=30)
    finally:
        producer.close(timeout=10)
    yield names
    kafka_admin.delete_topics(list(names), raise_errors=False)


@pytest.fixture(scope="session")
def seeded_lake(
    stack: StackInfo,
    lake_catalog_database: str,
    dashboard_topics: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SeededLake]:
    """The population of world.py, seeded once, relative to today (UTC)."""
    lake = make_lake(stack, lake_catalog_database, tmp_path_factory.mktemp("dashboard") / "lake")
    today = datetime.now(UTC).date()
    clickstream, backend = dashboard_topics
    conn = connect(lake)
    try:
        seed_world(conn, today, clickstream_topic=clickstream, backend_topic=backend)
    finally:
        conn.close()
    yield SeededLake(lake, today, clickstream, backend, stack.kafka_bootstrap)
    detach(lake)
    forget_schema(lake)
    drop_lake_schema(stack, lake_catalog_database, lake.metadata_schema or "")
