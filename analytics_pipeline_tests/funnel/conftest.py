"""Funnel fixtures: the journeys fixtures (lakes already migrated), plus a Dagster instance of
the funnel tests' own.

The staleness sensor reads the whole event log, so its tests need an instance no other test
writes funnel materialisations to: a real PostgreSQL-backed instance on a fresh database,
created per module (`funnel_instance`) or per test (`fresh_funnel_instance`), dropped after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from analytics_pipeline_tests.fixtures.stack import (
    REPO_ROOT,
    StackInfo,
    create_test_database,
    pg_query,
)
from analytics_pipeline_tests.journeys.conftest import conn, lake, raw

__all__ = ["conn", "lake", "raw"]  # `lake`: a migrated clone, as in journeys/


@contextmanager
def private_dagster_home(stack: StackInfo, home: Path) -> Iterator[Path]:
    """`home` set up like the repository's DAGSTER_HOME, on a database only its user has."""
    from psycopg2 import sql

    name = f"dagster_funnel_{uuid.uuid4().hex[:10]}"
    create_test_database(stack, name)
    config = (REPO_ROOT / "dagster.yaml").read_text(encoding="utf-8")
    assert "db_name: {env: DAGSTER_PG_DB}" in config
    config = config.replace("db_name: {env: DAGSTER_PG_DB}", f"db_name: {name}")
    (home / "dagster.yaml").write_text(config, encoding="utf-8")
    try:
        yield home
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        pg_query(stack, stack.pg_db, drop)


@pytest.fixture(scope="module")
def funnel_dagster_home(
    stack: StackInfo, dagster_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A PostgreSQL-backed DAGSTER_HOME shared by the tests of one module."""
    with private_dagster_home(stack, tmp_path_factory.mktemp("funnel_dagster_home")) as home:
        yield home


@pytest.fixture(scope="module")
def funnel_instance(funnel_dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    instance = dg.DagsterInstance.from_config(str(funnel_dagster_home))
    yield instance
    instance.dispose()


@pytest.fixture
def fresh_funnel_instance(
    stack: StackInfo, dagster_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dg.DagsterInstance]:
    """A PostgreSQL-backed instance of one test alone (for tests reading the whole log)."""
    with private_dagster_home(stack, tmp_path_factory.mktemp("fresh_dagster_home")) as home:
        instance = dg.DagsterInstance.from_config(str(home))
        yield instance
        instance.dispose()
