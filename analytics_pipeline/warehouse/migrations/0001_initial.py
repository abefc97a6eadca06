"""Migration 0001, the code half: the raw tables' key tables, defined with the code that keeps
them in step with the raw tables (warehouse/raw_tables.py), as `ensure_schema` created them
before the lake had versions."""

import duckdb

from analytics_pipeline.warehouse.raw_tables import key_tables_ddl


def migrate(conn: duckdb.DuckDBPyConnection) -> None:
    for ddl in key_tables_ddl():
        conn.execute(ddl)
