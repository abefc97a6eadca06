"""Table metadata for assets that are lake tables: the Dagster UI's name, schema and row count.

Every table asset carries `dagster/table_name` (as a reader of the lake spells it, SPEC §9),
on its definition, so the catalog shows it before any run, and on each materialisation
`dagster/column_schema` (from the lake's own `DESCRIBE`, so it never drifts from the DDL) and
`dagster/row_count`. Dagster 1.13 does not export `TableMetadataSet`, so the keys
are written out here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg
import duckdb

from analytics_pipeline.warehouse.connection import describe_table, transaction

# The alias a reader attaches the lake as (SPEC §9: `ATTACH 'ducklake:…' AS analytics`), not
# this process's alias, which differs per test lake.
LAKE_DATABASE = "analytics"
LAKE_SCHEMA = "main"
OWNERS = ["team:data-platform"]

TABLE_NAME_KEY = "dagster/table_name"
COLUMN_SCHEMA_KEY = "dagster/column_schema"
ROW_COUNT_KEY = "dagster/row_count"
PARTITION_ROW_COUNT_KEY = "dagster/partition_row_count"


class UnknownTableError(LookupError):
    """The table is not in the lake (a typo, or the schema was never applied)."""


def table_name(table: str) -> str:
    """The fully qualified name a lake reader uses, e.g. `analytics.main.funnel_daily`."""
    return f"{LAKE_DATABASE}.{LAKE_SCHEMA}.{table}"


def definition_metadata(table: str, **extra: object) -> dict[str, object]:
    """Metadata for an asset definition: the table's name, known before any run."""
    return {TABLE_NAME_KEY: table_name(table), **extra}


def column_schema(conn: duckdb.DuckDBPyConnection, table: str) -> dg.TableSchema:
    """The table's (or view's) columns as the lake declares them."""
    rows = describe_table(conn, table)
    if not rows:
        raise UnknownTableError(f"no table or view {table!r} in the lake's schema {LAKE_SCHEMA}")
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=name,
                type=data_type.lower(),
                constraints=dg.TableColumnConstraints(nullable=nullable),
            )
            for name, data_type, nullable in rows
        ]
    )


def table_metadata(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, dg.MetadataValue]:
    """What a materialisation of `table` shows: its name, columns and row count."""
    return dict(tables_metadata(conn, (table,))[table])


def tables_metadata(
    conn: duckdb.DuckDBPyConnection, tables: Iterable[str]
) -> Mapping[str, dict[str, dg.MetadataValue]]:
    """`table_metadata` of several tables, read in one transaction (one snapshot look-up in
    the catalog) with one statement counting every table's rows."""
    tables = list(dict.fromkeys(tables))
    if not tables:
        return {}
    counts = ", ".join(f'(SELECT count(*) FROM {LAKE_SCHEMA}."{table}")' for table in tables)
    with transaction(conn):
        schemas = [column_schema(conn, table) for table in tables]
        [row] = conn.execute(f"SELECT {counts}").fetchall()
    return {
        table: {
            TABLE_NAME_KEY: dg.MetadataValue.text(table_name(table)),
            COLUMN_SCHEMA_KEY: dg.MetadataValue.table_schema(schema),
            ROW_COUNT_KEY: dg.MetadataValue.int(int(count)),
        }
        for table, schema, count in zip(tables, schemas, row, strict=True)
    }
