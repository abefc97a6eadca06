"""Connections to the lake: a writer's first connection in a process brings the lake's schema
up to date (schema_version), a reader's checks that it can read it.

Transactions and commit-conflict retries are in `transactions` (re-exported here).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb

from analytics_pipeline.warehouse.catalog_state import (
    CatalogState,
    read_catalog_state,
    sql_literal,
)
from analytics_pipeline.warehouse.lake import (
    Lake,
    LakeUnavailableError,
    metadata_database,
    open_cursor,
    unavailable,
)
from analytics_pipeline.warehouse.raw_tables import sync_event_keys
from analytics_pipeline.warehouse.schema_version import (
    Migration,
    check_readable,
    load_migrations,
    upgrade,
)
from analytics_pipeline.warehouse.transactions import (
    CONFLICT_ATTEMPTS,
    CONFLICT_BASE_DELAY_S,
    describe_table,
    is_conflict,
    retry_conflicts,
    transaction,
)

__all__ = [
    "CONFLICT_ATTEMPTS",
    "CONFLICT_BASE_DELAY_S",
    "connect",
    "describe_table",
    "ensure_schema",
    "forget_schema",
    "is_conflict",
    "reading",
    "retry_conflicts",
    "transaction",
]

log = logging.getLogger(__name__)

_ready: set[tuple[str, str, str | None]] = set()  # lakes whose schema this process checked
_readable: set[tuple[str, str, str | None]] = set()  # lakes this process's readers checked
_ready_lock = threading.Lock()


def _key(lake: Lake) -> tuple[str, str, str | None]:
    return (lake.catalog, lake.data_path, lake.metadata_schema)


def ensure_schema(
    conn: duckdb.DuckDBPyConnection, lake: Lake, migrations: Sequence[Migration] | None = None
) -> CatalogState | None:
    """Bring the lake to this release's schema version (`migrations` in tests).

    One catalog query says whether there is anything to do; on a lake at the latest version
    nothing else runs. Otherwise `schema_version.upgrade` migrates it under the lake's
    migration lock. Returns what the query found (None when the catalog could not be asked),
    for `ensure_catalog_indexes`.

    Tables are not seeded with a row inserted and deleted to give them statistics (DuckLake
    1.5.5 re-reads an empty table's statistics on every statement): DuckLake keeps the deleted
    row's values in the table's min/max statistics and answers `min()`/`max()` from them, so
    `SELECT min(day) FROM funnel_daily` said 1970-01-01 (dashboard/test_queries.py).
    """
    migrations = migrations or load_migrations()
    state = read_catalog_state(conn, lake, tuple(CATALOG_INDEXES))
    if state is None or state.version != migrations[-1].version:
        upgrade(conn, lake, migrations)
    return state


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """A read-write connection to `lake`. The first one in a process migrates the lake to this
    release's schema (or refuses a newer lake: LakeVersionError) and rebuilds a raw table's
    de-duplication keys if they do not match it."""
    try:
        conn = open_cursor(lake)
        try:
            with _ready_lock:
                if _key(lake) not in _ready:
                    state = ensure_schema(conn, lake)
                    sync_event_keys(conn)
                    ensure_catalog_indexes(conn, lake, state)
                    _ready.add(_key(lake))
        except BaseException:
            # A refused lake (LakeVersionError) leaves a read open on the cursor: left to the
            # garbage collector, its catalog transaction would hold locks on the lake's tables.
            conn.close()
            raise
    except LakeUnavailableError:
        raise
    except duckdb.IOException as error:
        raise unavailable(lake, error) from None
    return conn


@contextmanager
def reading(lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the lake, closed afterwards. The first in a process checks
    the lake's schema version (a few milliseconds): readers never migrate, so on an older lake
    they say what to run, and on a newer one they fail (LakeVersionError)."""
    cursor = open_cursor(lake, read_only=True)
    try:
        if _key(lake) not in _readable:
            check_readable(cursor, lake)
            _readable.add(_key(lake))
        yield cursor
    finally:
        cursor.close()


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


def ensure_catalog_indexes(
    conn: duckdb.DuckDBPyConnection, lake: Lake, state: CatalogState | None
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
                f"CALL postgres_execute({sql_literal(metadata_database(lake))}, {sql_literal(sql)})"
            )
        except duckdb.Error as error:
            log.warning("could not create the catalog index %s (%s)", name, error)


def forget_schema(lake: Lake) -> None:
    """Make the next `connect` or `reading` in this process check the schema again (tests)."""
    with _ready_lock:
        _ready.discard(_key(lake))
        _readable.discard(_key(lake))
