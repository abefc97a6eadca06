"""Stream fixtures: a real lake (fixtures/warehouse.py) with a raw-batch writer, a publisher of
the journey stream on a topic of the test's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import pytest

from analytics_pipeline.defs.streams.journey import journey_publisher
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.streams.publisher import StreamPublisher
from analytics_pipeline_tests.journeys.conftest import conn, raw

__all__ = ["conn", "raw"]  # the journeys' fixtures, on this directory's (empty) `lake`


@pytest.fixture
def journey_topic(make_topic: Callable[..., str]) -> str:
    return make_topic(3, suffix="journeys")


@pytest.fixture
def publisher(
    kafka_bootstrap: str, journey_topic: str, conn: duckdb.DuckDBPyConnection
) -> Iterator[StreamPublisher]:
    kafka = KafkaResource(bootstrap_servers=kafka_bootstrap, journey_topic=journey_topic)
    one = journey_publisher(kafka, conn)
    yield one
    one.close()
