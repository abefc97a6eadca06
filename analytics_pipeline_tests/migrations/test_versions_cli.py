"""Versions as users meet them, through the real CLI in a subprocess: `migrate --check` and
`migrate`, a writer of an older release on a newer lake, readers on older and newer lakes."""

from __future__ import annotations

import os
import subprocess
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from analytics_pipeline.warehouse import Lake, LakeVersionError, connect, reading
from analytics_pipeline.warehouse.catalog_db import lake_exists
from analytics_pipeline.warehouse.connection import ensure_schema, forget_schema
from analytics_pipeline.warehouse.schema_version import load_migrations
from analytics_pipeline_tests.fixtures.stack import VENV_BIN, StackInfo, pg_query
from analytics_pipeline_tests.fixtures.warehouse import lake_environment
from analytics_pipeline_tests.migrations.lakes import (
    LATEST,
    LATEST_NAME,
    NEWER,
    NEWER_NAME,
    add_alert,
    make_lake_before_versions,
    newer_release,
)


def cli(lake: Lake, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "analytics-pipeline"), *args],
        env={**os.environ, **lake_environment(lake)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def has_version_table(stack: StackInfo, database: str, lake: Lake) -> bool:
    rows = pg_query(
        stack,
        database,
        f'SELECT 1 FROM "{lake.metadata_schema}".ducklake_table '
        "WHERE table_name = 'schema_migrations'",
    )
    return bool(rows)


def test_check_then_migrate_a_lake_made_before_versions(
    lake: Lake, stack: StackInfo, lake_catalog_database: str
) -> None:
    make_lake_before_versions(lake)

    # a reader on the old lake says what to run, and changes nothing
    read = cli(lake, "sql", "SELECT count(*) FROM alerts")
    assert read.returncode == 2, read
    assert "made before the lake recorded its schema version" in read.stderr
    assert "Run `analytics-pipeline migrate`" in read.stderr
    assert not has_version_table(stack, lake_catalog_database, lake)

    check = cli(lake, "migrate", "--check")
    assert check.returncode == 1, check
    assert "made before the lake recorded its version" in check.stdout
    assert "`analytics-pipeline migrate` would run:\n  0001_initial: DDL + data move (again" in (
        check.stdout
    )
    assert not has_version_table(stack, lake_catalog_database, lake)  # --check writes nothing

    migrated = cli(lake, "migrate")
    assert migrated.returncode == 0, migrated
    assert "applied 0001_initial in" in migrated.stdout
    assert f"to version {LATEST} ({LATEST_NAME})" in migrated.stdout

    again = cli(lake, "migrate", "--check")
    assert again.returncode == 0, again
    up_to_date = f"is at schema version {LATEST} ({LATEST_NAME}), the latest this release knows"
    assert f"{up_to_date}: nothing to run" in again.stdout
    read = cli(lake, "sql", "SELECT count(*) AS alerts FROM alerts", "--format", "csv")
    assert (read.returncode, read.stdout) == (0, "alerts\n1\n"), read


def test_check_on_a_lake_not_created_yet_creates_nothing(new_lake) -> None:
    lake = new_lake("never")
    check = cli(lake, "migrate", "--check")
    assert check.returncode == 1, check
    assert "does not exist yet" in check.stdout
    assert f"create it at schema version {LATEST} ({LATEST_NAME})" in check.stdout
    assert not lake_exists(lake)


def test_an_older_release_refuses_a_newer_lake(
    lake: Lake, tmp_path: Path, stack: StackInfo, lake_catalog_database: str
) -> None:
    with closing(connect(lake)) as conn:
        newer_lake_refused(conn, lake, tmp_path)
    # A refusal leaves no catalog transaction open (connect() closes its cursor): one would
    # hold the lake's tables, and DROP SCHEMA at teardown wait out its 30 s lock timeout.
    assert not pg_query(
        stack,
        lake_catalog_database,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND state LIKE 'idle in transaction%%'",
    )


def newer_lake_refused(conn: duckdb.DuckDBPyConnection, lake: Lake, tmp_path: Path) -> None:
    add_alert(conn, "new_signup:u1", channel="C1")
    ensure_schema(conn, lake, load_migrations(newer_release(tmp_path / "newer")))
    forget_schema(lake)  # this process now behaves as a new process of this (older) release

    with pytest.raises(LakeVersionError) as refused:
        connect(lake)
    message = str(refused.value)
    assert f"is at schema version {NEWER} ({NEWER_NAME})" in message
    assert f"up to version {LATEST}, {LATEST_NAME}" in message
    assert "upgrade analytics_pipeline on this host" in message

    with (
        pytest.raises(LakeVersionError, match="upgrade analytics_pipeline to read it"),
        reading(lake),
    ):
        pass

    for args in (("migrate",), ("migrate", "--check"), ("sql", "SELECT 1")):
        result = cli(lake, *args)
        assert result.returncode == 2, result
        assert f"schema version {NEWER} ({NEWER_NAME})" in result.stderr, result
        assert f"up to version {LATEST}, {LATEST_NAME}" in result.stderr, result

    assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (NEWER,)
