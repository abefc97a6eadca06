"""Connections to the lake for writers, its schema, transactions, and commit-conflict retries.

Any number of processes may read and write the lake at once. Two transactions that change
the same table (an UPDATE or DELETE in one, any write in the other) conflict when the second
commits: DuckLake then rolls it back and `retry_conflicts` runs it again after a back-off.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import TypeVar

import duckdb

from analytics_pipeline.warehouse.lake import (
    Lake,
    LakeUnavailableError,
    metadata_database,
    open_cursor,
    unavailable,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

CONFLICT_ATTEMPTS = 8
CONFLICT_BASE_DELAY_S = 0.2

_ready: set[tuple[str, str, str | None]] = set()
_ready_lock = threading.Lock()


def schema_statements() -> list[str]:
    """The DDL files under warehouse/schema, in file-name order."""
    folder = resources.files("analytics_pipeline.warehouse") / "schema"
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(folder / name).read_text(encoding="utf-8") for name in names]


# Tables read by one key. DuckLake writes their files in this order (on insert and when upkeep
# merges files), so the files' min/max statistics let a lookup of one user or browser skip
# nearly every row group: the journey explorer's query went from 0.87 s to 0.02 s at 20 M
# events. Set when the table is created (setting it again would add a schema version).
SORT_ORDERS = {
    "journey_events_by_user": "user_id, ts",
    "journey_events_anonymous": "anonymous_id, ts",
}


_SCHEMA_OBJECT = re.compile(r"CREATE\s+(TABLE|VIEW)\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)


def schema_objects() -> tuple[frozenset[str], frozenset[str]]:
    """(tables, views) the schema files and the raw tables' key tables define."""
    from analytics_pipeline.warehouse.raw_tables import KEY_TABLES

    found = [m.groups() for ddl in schema_statements() for m in _SCHEMA_OBJECT.finditer(ddl)]
    tables = {name for kind, name in found if kind.upper() == "TABLE"} | set(KEY_TABLES.values())
    return frozenset(tables), frozenset(name for kind, name in found if kind.upper() == "VIEW")


def ensure_schema(
    conn: duckdb.DuckDBPyConnection, lake: Lake | None = None
) -> _CatalogState | None:
    """Create every table and view that does not exist yet (idempotent), in one commit.

    With `lake`, the catalog is asked first (one query): when every table and view exists,
    nothing is executed. Returns what that query found (None without `lake`, or when the
    catalog could not be asked), for `ensure_catalog_indexes`.

    Tables are not seeded with a row inserted and deleted to give them statistics (DuckLake
    1.5.5 re-reads an empty table's statistics on every statement): DuckLake keeps the deleted
    row's values in the table's min/max statistics and answers `min()`/`max()` from them, so
    `SELECT min(day) FROM funnel_daily` said 1970-01-01 (dashboard/test_queries.py).
    """

    def create() -> _CatalogState | None:
        from analytics_pipeline.warehouse.raw_tables import key_tables_ddl

        if lake is not None and (state := _catalog_state(conn, lake)) is not None:
            tables, views = schema_objects()
            missing = (tables | views) - state.objects
            if not missing:
                return state
            sorted_new = [table for table in SORT_ORDERS if table in missing]
        with transaction(conn):
            if lake is None or state is None:
                sorted_new = [table for table in SORT_ORDERS if not describe_table(conn, table)]
            for ddl in [*schema_statements(), *key_tables_ddl()]:
                conn.execute(ddl)
            for table in sorted_new:
                conn.execute(f"ALTER TABLE {table} SET SORTED BY ({SORT_ORDERS[table]})")
        return state if lake is not None else None

    return retry_conflicts(create, what="creating the lake's tables")


def describe_table(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, bool]]:
    """(column, type, nullable) of a lake table or view in `main`, [] when it does not exist.

    `DESCRIBE` takes ~3 ms; `duckdb_columns()` ~0.4 s on a process's first call (it reads
    every attached catalog), which every run would pay.
    """
    try:
        rows = conn.execute(f'DESCRIBE main."{table}"').fetchall()
    except duckdb.CatalogException:
        return []
    return [(name, type_, nullable == "YES") for name, type_, nullable, *_ in rows]


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """A read-write connection to `lake`; the first one in a process creates the schema and
    rebuilds a raw table's de-duplication keys if they do not match it."""
    try:
        conn = open_cursor(lake)
        key = (lake.catalog, lake.data_path, lake.metadata_schema)
        with _ready_lock:
            if key not in _ready:
                state = ensure_schema(conn, lake)
                from analytics_pipeline.warehouse.raw_tables import sync_event_keys

                sync_event_keys(conn)
                ensure_catalog_indexes(conn, lake, state)
                _ready.add(key)
    except LakeUnavailableError:
        raise
    except duckdb.IOException as error:
        raise unavailable(lake, error) from None
    return conn


# PostgreSQL indexes on the catalog's hot look-ups (ducklake PR #1147): every statement on a
# lake table looks up its files and their column statistics by table_id, and DuckLake creates
# only primary keys, so these scans grow with the number of files in the whole lake.
CATALOG_INDEXES = {
    "analytics_file_column_stats_table_column": (
        "ducklake_file_column_stats",
        "table_id, column_id",
    ),
    "analytics_data_file_table": ("ducklake_data_file", "table_id"),
    "analytics_delete_file_table": ("ducklake_delete_file", "table_id"),
}


@dataclass(frozen=True)
class _CatalogState:
    indexes: int  # how many of CATALOG_INDEXES exist
    objects: frozenset[str]  # tables and views of the lake's schema `main`


def _catalog_state(conn: duckdb.DuckDBPyConnection, lake: Lake) -> _CatalogState | None:
    """What `ensure_schema` and `ensure_catalog_indexes` need to know, in one catalog query;
    None when the catalog cannot be asked (then both do what they did without it)."""
    schema = lake.metadata_schema or "public"  # a plain identifier (Lake checks it)
    names = ", ".join(f"'{name}'" for name in CATALOG_INDEXES)
    live = "end_snapshot IS NULL"
    query = f"""
        WITH main AS (
            SELECT schema_id FROM "{schema}".ducklake_schema
            WHERE schema_name = 'main' AND {live}
        ),
        tables AS (
            SELECT table_id, table_name FROM "{schema}".ducklake_table
            WHERE {live} AND schema_id IN (SELECT schema_id FROM main)
        )
        SELECT
            (SELECT count(*) FROM pg_indexes
             WHERE schemaname = '{schema}' AND indexname IN ({names})) AS indexes,
            (SELECT coalesce(string_agg(table_name, ','), '') FROM (
                SELECT table_name FROM tables
                UNION ALL
                SELECT view_name FROM "{schema}".ducklake_view
                WHERE {live} AND schema_id IN (SELECT schema_id FROM main)) AS o) AS objects
    """
    try:
        row = conn.execute(
            f"SELECT * FROM postgres_query({_literal(metadata_database(lake))}, {_literal(query)})"
        ).fetchone()
    except duckdb.Error as error:
        if is_conflict(error):
            raise
        # e.g. a catalog made by another DuckLake version; the tables do not exist yet
        log.info("could not inspect the lake catalog (%s)", str(error).splitlines()[0])
        return None
    assert row is not None
    return _CatalogState(int(row[0]), frozenset(name for name in str(row[1]).split(",") if name))


def _literal(text: str) -> str:
    """`text` as an SQL string literal. (The database of `postgres_query` as a parameter made
    its first call in a process take 1.2 s.)"""
    return "'" + text.replace("'", "''") + "'"


def ensure_catalog_indexes(
    conn: duckdb.DuckDBPyConnection, lake: Lake, state: _CatalogState | None
) -> None:
    """Create CATALOG_INDEXES where missing, by the catalog `state` that `ensure_schema` read
    (None: the catalog could not be asked; nothing is done). An index is an optimisation only:
    a catalog that refuses it (a role that may not create indexes) is logged and left as it
    is."""
    if state is None or state.indexes >= len(CATALOG_INDEXES):
        return
    schema = lake.metadata_schema or "public"
    for name, (table, columns) in CATALOG_INDEXES.items():
        try:
            sql = f'CREATE INDEX IF NOT EXISTS {name} ON "{schema}".{table} ({columns})'
            conn.execute(
                f"CALL postgres_execute({_literal(metadata_database(lake))}, {_literal(sql)})"
            )
        except duckdb.Error as error:
            log.warning("could not create the catalog index %s (%s)", name, error)


def forget_schema(lake: Lake) -> None:
    """Make the next `connect` in this process check the schema again (tests)."""
    with _ready_lock:
        _ready.discard((lake.catalog, lake.data_path, lake.metadata_schema))


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, or ROLLBACK on any exception: all of a batch or none of it."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended it already
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def is_conflict(error: BaseException) -> bool:
    """True for a commit conflict: another transaction changed the same table (DuckLake's
    check), or the catalog database refused a concurrent update (PostgreSQL serialisation;
    DuckLake may report it as the catalog transaction it aborted)."""
    if not isinstance(error, duckdb.Error):
        return False
    text = str(error).lower()
    return (
        "transaction conflict" in text
        or "could not serialize access" in text
        or ("in ducklake" in text and "current transaction is aborted" in text)
        or (isinstance(error, duckdb.TransactionException) and "conflict" in text)
    )


def retry_conflicts(
    work: Callable[[], T],
    *,
    what: str,
    attempts: int = CONFLICT_ATTEMPTS,
    base_delay_s: float = CONFLICT_BASE_DELAY_S,
    on_retry: Callable[[str], None] | None = None,
    conn: duckdb.DuckDBPyConnection | None = None,
) -> T:
    """Run `work` (one whole transaction), again after a back-off while its commit conflicts.

    `work` must start from what is committed each time (it re-reads what it depends on), so a
    retry never applies anything twice. Each retry is reported through `on_retry` (a run's
    log) or this module's logger. Pass `conn` when `work` runs single statements on it: a
    conflict leaves that connection's transaction aborted until it is rolled back.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except duckdb.Error as error:
            if not is_conflict(error) or attempt == attempts:
                raise
            if conn is not None:  # a failed statement leaves its transaction aborted
                with contextlib.suppress(duckdb.Error):
                    conn.execute("ROLLBACK")
            delay = base_delay_s * 2 ** (attempt - 1) * (0.5 + random.random())
            message = (
                f"commit conflict while {what} (attempt {attempt} of {attempts}): another "
                f"writer changed the same table; retrying in {delay:.2f} s"
            )
            (on_retry or log.warning)(message)
            time.sleep(delay)
    raise AssertionError("unreachable")
