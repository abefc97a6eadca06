"""Journeys/funnel fixtures: a real DuckLake per test (fixtures/warehouse.py) and a raw-batch
writer."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from analytics_pipeline.warehouse import Lake, connect
from analytics_pipeline_tests.journeys.raw_events import RawBatches

TOPICS = {"clickstream_topic": "portal-clickstream", "backend_topic": "portal-backend"}


@pytest.fixture
def lake(migrated_lake: Lake) -> Lake:
    """Every lake here starts at this release's schema version, a clone of a lake migrated once
    per session (fixtures/warehouse.py): no test here is about migrating one."""
    return migrated_lake


@pytest.fixture
def conn(lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(lake)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def raw(conn: duckdb.DuckDBPyConnection) -> RawBatches:
    return RawBatches(conn)
