"""Funnel fixtures: the journeys fixtures, plus a Dagster instance of the funnel tests' own.

The staleness sensor reads the whole event log, so its tests need an instance no other test
writes funnel materialisations to: a real PostgreSQL-backed instance on a fresh database,
created per test module and dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, StackInfo, pg_query
from analytics_pipeline_tests.journeys.conftest import conn, duckdb_path, raw

__all__ = ["conn", "duckdb_path", "funnel_dagster_home", "funnel_instance", "raw"]


@pytest.fixture(scope="module")
def funnel_dagster_home(
    stack: StackInfo, dagster_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A DAGSTER_HOME like the repository's, on a database only this module uses."""
    from psycopg2 import sql

    name = f"dagster_funnel_{uuid.uuid4().hex[:10]}"
    pg_query(stack, stack.pg_db, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    home = tmp_path_factory.mktemp("funnel_dagster_home")
    config = (REPO_ROOT / "dagster.yaml").read_text(encoding="utf-8")
    assert "db_name: {env: DAGSTER_PG_DB}" in config
    config = config.replace("db_name: {env: DAGSTER_PG_DB}", f"db_name: {name}")
    (home / "dagster.yaml").write_text(config, encoding="utf-8")
    yield home
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    pg_query(stack, stack.pg_db, drop)


@pytest.fixture(scope="module")
def funnel_instance(funnel_dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    instance = dg.DagsterInstance.from_config(str(funnel_dagster_home))
    yield instance
    instance.dispose()
