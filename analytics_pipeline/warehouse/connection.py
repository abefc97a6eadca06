"""Opening the warehouse file and creating its schema.

DuckDB allows one writer process: only Dagster runs (serialised by the `duckdb` pool) call
`connect`; sensors, the daemon and the webserver never do. Keep connections short.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb


def schema_statements() -> list[str]:
    """The DDL files under warehouse/schema, in file-name order."""
    folder = resources.files("analytics_pipeline.warehouse") / "schema"
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(folder / name).read_text(encoding="utf-8") for name in names]


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every table that does not exist yet (idempotent)."""
    for ddl in schema_statements():
        conn.execute(ddl)


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at `path`, creating the file, its folder and the schema if needed
    (and rebuilding a raw table's de-duplication keys if they do not match it)."""
    path = Path(path)
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path))
    conn.execute("SET TimeZone = 'UTC'")
    ensure_schema(conn)
    from analytics_pipeline.warehouse.raw_tables import sync_event_keys  # it uses transaction()

    sync_event_keys(conn)
    return conn


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, or ROLLBACK on any exception: all of a batch or none of it."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
