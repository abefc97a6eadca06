"""A lake is migrated in place, once, keeping every row (SPEC §9): real PostgreSQL catalog and
Parquet files, the migrations of this release and of a test-only newer one."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline.warehouse import Lake, LakeVersionError, connect, reading, transaction
from analytics_pipeline.warehouse.connection import ensure_schema, forget_schema
from analytics_pipeline.warehouse.lake import metadata_database, open_cursor
from analytics_pipeline.warehouse.schema_version import (
    SORT_ORDERS,
    check_readable,
    load_migrations,
    read_version,
)
from analytics_pipeline_tests.fixtures.stack import StackInfo, pg_query
from analytics_pipeline_tests.migrations.lakes import (
    KEPT_BY_0003,
    LEDGER,
    NEWER,
    NEWER_NAME,
    PENDING_RAW_ROWS,
    SHIPPED_VERSIONS,
    TOPICS,
    add_alert,
    catalog_queries,
    contents,
    make_lake_before_versions,
    newer_release,
    shape,
)

# What a reader asks, the views included.
QUERIES = (
    "SELECT user_id, count(*), min(ts) FROM journey_events GROUP BY ALL ORDER BY ALL",
    "SELECT user_id, signup_day FROM user_signups ORDER BY ALL",
    "SELECT j.user_id, j.meaningful_days, count(d.day) FROM user_journeys AS j "
    "LEFT JOIN user_meaningful_days AS d USING (user_id) GROUP BY ALL ORDER BY ALL",
)
WAREHOUSE = Path(__file__).parents[2] / "analytics_pipeline" / "warehouse"


def versions(conn: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    return conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def sort_orders(stack: StackInfo, database: str, lake: Lake) -> list[tuple[str, str]]:
    """(table, sort expression) of the lake's live sort orders, from its catalog."""
    schema = lake.metadata_schema
    return pg_query(
        stack,
        database,
        f"""SELECT t.table_name, e.expression
            FROM "{schema}".ducklake_sort_info AS i
            JOIN "{schema}".ducklake_sort_expression AS e USING (sort_id)
            JOIN "{schema}".ducklake_table AS t
              ON t.table_id = i.table_id AND t.end_snapshot IS NULL
            WHERE i.end_snapshot IS NULL ORDER BY 1, e.sort_key_index""",
    )


def test_a_lake_made_before_versions_is_migrated_and_keeps_its_rows(
    new_lake, stack: StackInfo, lake_catalog_database: str
) -> None:
    old = new_lake("old")
    make_lake_before_versions(old)
    before = open_cursor(old, read_only=True)
    rows_before = contents(before)
    ledger_before = before.execute(LEDGER).fetchall()
    answers_before = [before.execute(query).fetchall() for query in QUERIES]
    before.close()
    assert rows_before["raw_clickstream_events"] and rows_before["user_journeys"]

    # a reader never migrates: it says what to run, and the lake stays as it was
    with (
        pytest.raises(LakeVersionError, match=r"Run `analytics-pipeline migrate`"),
        reading(old),
    ):
        pass

    started = time.perf_counter()
    conn = connect(old)
    seconds = time.perf_counter() - started
    print(f"first connect of a writer on the pre-versions lake: {seconds:.2f} s")
    assert versions(conn) == SHIPPED_VERSIONS
    assert contents(conn, KEPT_BY_0003) == {t: rows_before[t] for t in KEPT_BY_0003}
    assert conn.execute(LEDGER).fetchall() == ledger_before
    assert read_version(conn, old, load_migrations()).recorded

    # same tables, views, columns and sort orders as a lake this release creates
    fresh = new_lake("fresh")
    fresh_conn = connect(fresh)
    assert shape(conn) == shape(fresh_conn)
    assert sort_orders(stack, lake_catalog_database, old) == sort_orders(
        stack, lake_catalog_database, fresh
    )
    assert sorted(t for t, _ in sort_orders(stack, lake_catalog_database, old)) == sorted(
        t for t in SORT_ORDERS for _ in SORT_ORDERS[t].split(",")
    )

    # queryable by readers, the views included
    forget_schema(old)
    with reading(old) as reader:
        assert [reader.execute(query).fetchall() for query in QUERIES] == answers_before

    # the journeys watermark moved to a snapshot: what was processed stays so, and the raw
    # batch committed after the old watermark is processed, once
    step = update_journeys(conn, **TOPICS)
    assert step.raw_rows_read == PENDING_RAW_ROWS
    assert update_journeys(conn, **TOPICS).raw_rows_read == 0


def test_a_newer_release_alters_a_table_moves_data_once_and_then_costs_one_query(
    lake: Lake, tmp_path: Path
) -> None:
    conn = connect(lake)  # this release: version LATEST
    for n in range(3):
        add_alert(conn, f"new_signup:u{n}", channel=f"C{n}")
    newer = load_migrations(newer_release(tmp_path / "newer"))

    ensure_schema(conn, lake, newer)

    assert versions(conn) == [*SHIPPED_VERSIONS, (NEWER, NEWER_NAME)]
    assert conn.execute("SELECT alert_key, channel_name FROM alerts ORDER BY 1").fetchall() == [
        (f"new_signup:u{n}", f"C{n}") for n in range(3)
    ]
    assert conn.execute("SELECT count(*) FROM alert_channel_moves").fetchone() == (3,)

    # every later first connection: nothing runs again, and the check is one catalog query,
    # what a bare postgres_query costs
    probe = f"SELECT * FROM postgres_query('{metadata_database(lake)}', 'SELECT 1')"
    bare = catalog_queries(lambda: conn.execute(probe).fetchall())
    for _ in range(2):
        check = catalog_queries(lambda: ensure_schema(conn, lake, newer))
        assert check == bare, (check, bare)
    started = time.perf_counter()
    ensure_schema(conn, lake, newer)
    elapsed = time.perf_counter() - started
    print(f"schema check on an up-to-date lake: {check} catalog queries, {elapsed * 1000:.1f} ms")
    assert versions(conn)[-1] == (NEWER, NEWER_NAME)
    assert conn.execute("SELECT count(*) FROM alert_channel_moves").fetchone() == (3,)

    # a lake reading the version the long way costs far more: the check is not that
    assert catalog_queries(lambda: read_version(conn, lake, newer)) > bare


def test_a_failing_migration_leaves_the_lake_at_the_last_version_that_committed(
    lake: Lake, tmp_path: Path
) -> None:
    conn = connect(lake)
    add_alert(conn, "new_signup:u1", channel="C1")
    broken = newer_release(
        tmp_path / "broken",
        code="def migrate(conn):\n    conn.execute('SELECT * FROM no_such_table')\n",
    )

    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        ensure_schema(conn, lake, load_migrations(broken))

    assert versions(conn) == SHIPPED_VERSIONS
    columns = [row[0] for row in conn.execute("DESCRIBE alerts").fetchall()]
    assert "channel_name" not in columns  # the DDL of the failed migration rolled back too
    with transaction(conn):  # the lake is still writable
        add_alert(conn, "new_signup:u2", channel="C2")
    assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (2,)


def test_schema_changes_are_migrations_only() -> None:
    """Branches written before migrations added `CREATE TABLE IF NOT EXISTS` files to
    warehouse/schema/, which nothing reads any more."""
    leftovers = sorted(p.name for p in (WAREHOUSE / "schema").glob("*.sql"))
    assert not leftovers, (
        f"warehouse/schema/ holds {leftovers}: nothing applies them now. Turn each into the next "
        "numbered migration in warehouse/migrations/ (see its __init__.py) and delete it."
    )
    assert load_migrations()[0].name == "0001_initial"


CONFLICTING_CODE = """\
from pathlib import Path


def migrate(conn):
    conn.execute("UPDATE alerts SET channel_name = json_extract_string(details, '$.channel')")
    marker = Path(__file__).with_suffix(".ran")
    if not marker.exists():  # the first attempt: another writer commits to alerts meanwhile
        marker.write_text("once")
        other = conn.cursor()
        other.execute("USE " + conn.execute("SELECT current_database()").fetchone()[0])
        other.execute(
            "INSERT INTO alerts (alert_key, rule, event_ts, status, created_at, details) "
            "VALUES ('new_signup:meanwhile', 'new_signup', now(), 'sent', now(), "
            "'{\\"channel\\": \\"C-meanwhile\\"}')"
        )
        other.close()
    conn.execute("INSERT INTO alert_channel_moves SELECT alert_key, channel_name FROM alerts")
"""


def test_a_migration_that_conflicts_with_a_writer_is_retried_from_what_is_committed(
    lake: Lake, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connect(lake)
    add_alert(conn, "new_signup:u1", channel="C1")
    newer = load_migrations(newer_release(tmp_path / "newer", code=CONFLICTING_CODE))

    with caplog.at_level("WARNING"):
        ensure_schema(conn, lake, newer)

    assert f"commit conflict while applying schema migration {NEWER_NAME}" in caplog.text
    assert versions(conn) == [*SHIPPED_VERSIONS, (NEWER, NEWER_NAME)]
    moved = conn.execute("SELECT * FROM alert_channel_moves ORDER BY 1").fetchall()
    assert moved == [("new_signup:meanwhile", "C-meanwhile"), ("new_signup:u1", "C1")]


def test_a_reader_checks_the_version_with_one_catalog_query(lake: Lake) -> None:
    connect(lake).close()
    reader = open_cursor(lake, read_only=True)
    probe = f"SELECT * FROM postgres_query('{metadata_database(lake, True)}', 'SELECT 1')"
    bare = catalog_queries(lambda: reader.execute(probe).fetchall())
    assert catalog_queries(lambda: check_readable(reader, lake)) == bare
    reader.close()
