"""The raw tables, and the key tables that let the writer de-duplicate them cheaply.

Each raw table has a key table (`<raw table>_keys`) holding, for every stored row, an 8-byte
hash of its event_id and the row's ingest_batch_id, written in the same transaction as the
row. Asking "is this event_id stored yet?" then scans 8-byte keys instead of every stored
event_id (~36-byte strings): at 27.6 M rows that is what keeps a small ingest run under
0.3 s. Equal keys are only candidates. The writer compares the event_ids themselves, in the
raw rows of the candidates' batches, which zone maps on ingest_batch_id find without a scan.

`sync_event_keys` (run whenever the warehouse is opened for writing) rebuilds a key table
whose row count differs from its raw table's: once for a warehouse made before the key
tables, or after rows were added or deleted by hand. After an edit that keeps the counts
(an UPDATE of event_id), drop the key table; the next open rebuilds it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import duckdb

from analytics_pipeline.events.wire import Kind
from analytics_pipeline.warehouse.transactions import describe_table, transaction

RAW_TABLES: Mapping[Kind, str] = {
    "clickstream": "raw_clickstream_events",
    "backend": "raw_backend_events",
}
KEY_TABLES: Mapping[Kind, str] = {kind: f"{table}_keys" for kind, table in RAW_TABLES.items()}

log = logging.getLogger(__name__)


def event_key(column: str) -> str:
    """SQL for the key of the event_id in `column`: 64 bits of its MD5.

    MD5 is the same in every DuckDB version (hash() is not), and the shift-and-mask form
    computes the same value as md5_number_lower about 5x faster.
    """
    return f"((md5_number({column}) >> 64) & 18446744073709551615)::UBIGINT"


KEY_COLUMNS = {"event_key": "UBIGINT", "ingest_batch_id": "BIGINT"}


def _key_table_ddl(keys: str) -> str:
    columns = ", ".join(f"{name} {type_} NOT NULL" for name, type_ in KEY_COLUMNS.items())
    return f"CREATE TABLE IF NOT EXISTS {keys} ({columns})"


def key_tables_ddl() -> list[str]:
    """CREATE TABLE IF NOT EXISTS of every key table (migration 0001 creates them)."""
    return [_key_table_ddl(keys) for keys in KEY_TABLES.values()]


def sync_event_keys(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the key tables, and rebuild each one that does not hold one key per raw row
    (or has another layout); returns those rebuilt.

    Needs the raw tables (migrations/0001_initial.sql). Row counts are table metadata, so the check
    costs a few milliseconds.
    """
    layouts = {keys: describe_table(conn, keys) for keys in KEY_TABLES.values()}
    for keys, columns in layouts.items():
        layout = {name: type_ for name, type_, _ in columns}
        if layout != KEY_COLUMNS:
            if layout:
                log.warning("replacing %s: its columns %s are not %s", keys, layout, KEY_COLUMNS)
                conn.execute(f"DROP TABLE {keys}")
            conn.execute(_key_table_ddl(keys))
    # Every count in one statement (row counts are table metadata: a few milliseconds).
    pairs = [(kind, table, KEY_TABLES[kind]) for kind, table in RAW_TABLES.items()]
    counts = ", ".join(
        f"(SELECT count(*) FROM {t}), (SELECT count(*) FROM {k})" for _, t, k in pairs
    )
    [row] = conn.execute(f"SELECT {counts}").fetchall()
    rebuilt = []
    for index, (_, table, keys) in enumerate(pairs):
        rows, key_rows = row[2 * index], row[2 * index + 1]
        if rows == key_rows:
            continue
        log.warning("rebuilding %s: %d keys for %d rows of %s", keys, key_rows, rows, table)
        with transaction(conn):
            conn.execute(f"DELETE FROM {keys}")
            conn.execute(
                f"INSERT INTO {keys} SELECT {event_key('event_id')}, ingest_batch_id FROM {table}"
            )
        rebuilt.append(keys)
    return rebuilt
