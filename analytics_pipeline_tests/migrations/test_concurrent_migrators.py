"""Two processes that start at once on an older lake: one migrates, the other waits for the
lock and finds the lake up to date (real processes, PostgreSQL advisory lock, DuckLake)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics_pipeline.warehouse import Lake, LakeUnavailableError, connect
from analytics_pipeline.warehouse.catalog_db import _lock_key, migration_lock
from analytics_pipeline_tests.fixtures.stack import StackInfo, pg_query, wait_until
from analytics_pipeline_tests.fixtures.warehouse import lake_environment
from analytics_pipeline_tests.migrations.lakes import (
    LATEST,
    NEWER,
    NEWER_NAME,
    add_alert,
    newer_release,
)

MIGRATOR = """
import json, sys
from pathlib import Path

import pytest
from analytics_pipeline.settings import load_settings
from analytics_pipeline.warehouse.lake import Lake, open_cursor
from analytics_pipeline.warehouse.schema_version import load_migrations, read_version, upgrade

lake = Lake.from_settings(load_settings())
migrations = load_migrations(Path(sys.argv[1]))
conn = open_cursor(lake)
applied = upgrade(conn, lake, migrations)
version = read_version(conn, lake, migrations).version
print(json.dumps({"applied": [m.name for m in applied], "version": version}))
"""


def waiting_migrators(stack: StackInfo, database: str, lake: Lake) -> int:
    """Sessions waiting for `lake`'s migration lock (a bigint key is classid:objid)."""
    key = _lock_key(lake) & 0xFFFFFFFFFFFFFFFF
    [(count,)] = pg_query(
        stack,
        database,
        "SELECT count(*) FROM pg_locks AS l JOIN pg_database AS d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database() "
        "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
        (key >> 32, key & 0xFFFFFFFF),
    )
    return int(count)


def test_two_processes_migrating_at_once_apply_each_migration_once(
    lake: Lake, tmp_path: Path, stack: StackInfo, lake_catalog_database: str
) -> None:
    conn = connect(lake)  # this release: version LATEST
    for n in range(3):
        add_alert(conn, f"new_signup:u{n}", channel=f"C{n}")
    newer = newer_release(tmp_path / "newer")
    env = {**os.environ, **lake_environment(lake)}

    # Hold the lock while both start, so they really contend for it.
    with migration_lock(lake, timeout_s=60):
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", MIGRATOR, str(newer)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            wait_until(
                lambda: (
                    waiting_migrators(stack, lake_catalog_database, lake) == 2
                    or any(p.poll() is not None for p in processes)
                ),
                timeout=120,
                message="both migrators waiting for the lock",
            )
            assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
            assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (
                LATEST,
            )
        except BaseException:
            for p in processes:
                p.kill()
            raise

    outputs = []
    for p in processes:
        stdout, stderr = p.communicate(timeout=180)
        assert p.returncode == 0, stderr
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert sorted(o["applied"] for o in outputs) == [[], [NEWER_NAME]]
    assert [o["version"] for o in outputs] == [NEWER, NEWER]

    assert conn.execute(
        "SELECT version, count(*) FROM schema_migrations GROUP BY 1 ORDER BY 1"
    ).fetchall() == [(version, 1) for version in range(1, NEWER + 1)]
    assert conn.execute("SELECT count(*) FROM alert_channel_moves").fetchone() == (3,)
    moved = "SELECT count(*) FROM alerts WHERE channel_name IS NOT NULL"
    assert conn.execute(moved).fetchone() == (3,)


def test_the_lock_session_names_the_catalog_and_never_the_password(lake: Lake) -> None:
    wrong = dataclasses.replace(lake, password="Wrong-Secret-8c1f")
    with pytest.raises(LakeUnavailableError) as refused, migration_lock(wrong, timeout_s=5):
        pass
    message = str(refused.value)
    assert lake.description in message and "password authentication failed" in message
    assert "Wrong-Secret-8c1f" not in message
