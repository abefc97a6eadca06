"""Which tables DuckLake snapshots inserted into, read from the catalog's own change log.

Raw writers commit side by side (ANALYTICS_INGEST_WRITERS), so what the journeys step has not
seen yet is a range of DuckLake snapshots, not of batch ids, and the alert rules follow the
journeys step's commits the same way. The newest snapshot of a table's rows costs a scan of
its file lists (8-16 catalog queries a table, even when nothing is new); the catalog keeps,
per snapshot, the list of changes it made (`ducklake_snapshot_changes.changes_made`, in the
DuckLake specification), and reading it for the snapshots above a watermark costs 3 (the
metadata transaction, the change rows above the watermark, the table ids). It also says which
tables have nothing new, so their scans are left out altogether.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from analytics_pipeline.warehouse.catalog_db import is_postgres
from analytics_pipeline.warehouse.lake import lake_of

# The changes that add rows to a table: a data file, or rows inlined in the catalog.
INSERT_CHANGES = ("inserted_into_table", "inlined_insert")

_INSERTED_SINCE = """
WITH log AS MATERIALIZED (
    SELECT snapshot_id, changes_made
    FROM {meta}.ducklake_snapshot_changes
    WHERE snapshot_id >= $after
        AND snapshot_id <= (SELECT id FROM ducklake_current_snapshot('{database}'))
),
inserts AS (
    SELECT snapshot_id, TRY_CAST(split_part(change, ':', 2) AS BIGINT) AS table_id
    FROM (
        SELECT snapshot_id, unnest(string_split(changes_made, ',')) AS change
        FROM log
        WHERE snapshot_id > $after
    )
    WHERE list_contains($kinds, split_part(change, ':', 1))
)
SELECT NULL AS table_name, count(*) FROM log WHERE snapshot_id = $after
UNION ALL
SELECT t.table_name, max(i.snapshot_id)
FROM inserts AS i
JOIN {meta}.ducklake_table AS t ON t.table_id = i.table_id
WHERE t.end_snapshot IS NULL AND list_contains($tables, t.table_name)
GROUP BY t.table_name
"""


def inserted_since(
    conn: duckdb.DuckDBPyConnection, after: int, tables: Sequence[str]
) -> dict[str, int] | None:
    """In the open transaction: {table: the newest snapshot in (after, the transaction's own
    snapshot] that inserted rows into it}, for those of `tables` that have one. The catalog's
    change log is read in a transaction of its own, so it is cut at the snapshot this
    transaction reads: a commit it cannot see is left for the next call.

    None when the log cannot answer, and the caller scans the tables instead: `conn` is not a
    lake connection from `open_cursor`, or snapshot `after` itself is no longer in the log
    (upkeep expires the oldest snapshots, and their changes with them, so the log above a
    snapshot it still holds is complete)."""
    lake = lake_of(conn)
    if lake is None:
        return None
    row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    database = str(row[0])
    schema = lake.metadata_schema or ("public" if is_postgres(lake) else "main")
    meta = f"__ducklake_metadata_{database}.{schema}"
    rows = conn.execute(
        _INSERTED_SINCE.format(meta=meta, database=database),
        {"after": after, "kinds": list(INSERT_CHANGES), "tables": list(tables)},
    ).fetchall()
    covered = any(name is None and count > 0 for name, count in rows)
    if not covered:
        return None
    return {str(name): int(snapshot) for name, snapshot in rows if name is not None}


def last_committed_snapshot(conn: duckdb.DuckDBPyConnection) -> int | None:
    """The snapshot this connection's last commit created (None before any). Free inside a
    transaction that has read the lake; outside one it opens its own (3 catalog queries)."""
    row = conn.execute(
        "SELECT * FROM ducklake_last_committed_snapshot(current_database())"
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])
