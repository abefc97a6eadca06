"""What the lake's catalog says about its schema, in one PostgreSQL query.

Asking DuckLake instead costs dozens of catalog round trips: listing the tables (SHOW TABLES,
duckdb_tables()) ~75, reading a one-row table ~15, one DESCRIBE 3. `postgres_query` on the
catalog database DuckLake attached costs one, for writers and read-only readers alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from analytics_pipeline.warehouse.lake import Lake, metadata_database
from analytics_pipeline.warehouse.transactions import is_conflict

log = logging.getLogger(__name__)

VERSION_TABLE = "schema_migrations"


@dataclass(frozen=True)
class CatalogState:
    """The lake's tables in `main`, its schema version by the catalog's statistics (None: no
    `schema_migrations` row), and how many of the asked-for catalog indexes exist."""

    tables: frozenset[str]
    version: int | None
    indexes: int


def sql_literal(text: str) -> str:
    """`text` as an SQL string literal. (The database of `postgres_query` as a parameter made
    its first call in a process take 1.2 s.)"""
    return "'" + text.replace("'", "''") + "'"


def read_catalog_state(
    conn: duckdb.DuckDBPyConnection,
    lake: Lake,
    index_names: Sequence[str] = (),
    *,
    read_only: bool = False,
) -> CatalogState | None:
    """The lake's CatalogState, through `conn`, a cursor on the lake's read-write or (with
    `read_only`) read-only attachment; None when the catalog cannot be asked (then callers
    take the long way).

    The version is the maximum of `schema_migrations.version` as DuckLake's table statistics
    hold it (updated in the commit that inserts the row, inlined rows included), so no data
    file is looked up. Deleting rows would not lower it, but nobody deletes a version row, and
    callers read anything but the version they expect again from the table itself.
    """
    schema = lake.metadata_schema or "public"  # a plain identifier (Lake checks it)
    names = ", ".join(sql_literal(name) for name in index_names) or "NULL"
    live = "end_snapshot IS NULL"
    query = f"""
        WITH tables AS (
            SELECT t.table_id, t.table_name
            FROM "{schema}".ducklake_table AS t
            JOIN "{schema}".ducklake_schema AS s ON s.schema_id = t.schema_id
            WHERE t.{live} AND s.{live} AND s.schema_name = 'main'
        ),
        version_column AS (
            SELECT c.table_id, c.column_id
            FROM tables AS t
            JOIN "{schema}".ducklake_column AS c ON c.table_id = t.table_id
            WHERE c.{live} AND t.table_name = '{VERSION_TABLE}'
              AND c.column_name = 'version' AND c.parent_column IS NULL
        )
        SELECT
            (SELECT count(*) FROM pg_indexes
             WHERE schemaname = '{schema}' AND indexname IN ({names})) AS indexes,
            (SELECT coalesce(string_agg(table_name, ','), '') FROM tables) AS tables,
            (SELECT max(st.max_value) FROM "{schema}".ducklake_table_column_stats AS st
             JOIN version_column AS v ON v.table_id = st.table_id AND v.column_id = st.column_id
            ) AS version
    """
    try:
        database = sql_literal(metadata_database(lake, read_only))
        row = conn.execute(
            f"SELECT * FROM postgres_query({database}, {sql_literal(query)})"
        ).fetchone()
    except duckdb.Error as error:
        if is_conflict(error):
            raise
        # e.g. a catalog made by another DuckLake version
        log.info("could not inspect the lake catalog (%s)", str(error).splitlines()[0])
        return None
    assert row is not None
    version = str(row[2]) if row[2] is not None else ""
    return CatalogState(
        tables=frozenset(name for name in str(row[1]).split(",") if name),
        version=int(version) if version.isdigit() else None,
        indexes=int(row[0]),
    )
