"""Journeys/funnel fixtures: a real DuckDB file per test and a raw-batch writer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from analytics_pipeline.warehouse import connect
from analytics_pipeline_tests.journeys.raw_events import RawBatches

TOPICS = {"clickstream_topic": "portal-clickstream", "backend_topic": "portal-backend"}


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def conn(duckdb_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(duckdb_path)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def raw(conn: duckdb.DuckDBPyConnection) -> RawBatches:
    return RawBatches(conn)
