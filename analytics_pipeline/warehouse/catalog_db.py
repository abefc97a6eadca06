"""Plain PostgreSQL sessions on the lake's catalog database, beside DuckLake's own.

The migrator needs a lock that outlives DuckDB's pooled catalog connections and is released
when its process dies: a session-level advisory lock on its own connection. The password is
handed to libpq as a keyword, never inside a connection string, so no error can show it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from analytics_pipeline.warehouse.lake import Lake, unavailable

log = logging.getLogger(__name__)

POSTGRES_PREFIX = "postgres:"


class MigrationLockTimeoutError(RuntimeError):
    """Another process held the lake's migration lock for longer than this one would wait."""


def is_postgres(lake: Lake) -> bool:
    """True when the lake's catalog is a PostgreSQL database (the only catalog with a lock)."""
    return lake.catalog.startswith(POSTGRES_PREFIX)


def catalog_session(lake: Lake) -> Any:
    """A psycopg2 connection (autocommit) to the catalog database; LakeUnavailableError, with
    the catalog named and no password, when it cannot be opened."""
    import psycopg2

    try:
        conn = psycopg2.connect(
            lake.catalog.removeprefix(POSTGRES_PREFIX),
            password=lake.password,
            application_name="analytics_pipeline",
            connect_timeout=10,
        )
    except psycopg2.Error as error:  # libpq's first line names the cause; hints follow
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise unavailable(lake, RuntimeError(lines[0])) from None
    conn.autocommit = True
    return conn


def _lock_key(lake: Lake) -> int:
    """A signed 64-bit advisory lock key per lake (several lakes may share one database, each
    in its own metadata schema)."""
    name = f"analytics_pipeline schema migrations {lake.metadata_schema or 'public'}"
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def migration_lock(lake: Lake, timeout_s: float) -> Iterator[None]:
    """Hold the lake's migration lock: one migrator at a time across every process and host.

    Waits up to `timeout_s` for another migrator (then MigrationLockTimeoutError). The lock is
    the session's, so it is released when the block ends or the process dies. A catalog that
    is not PostgreSQL has no lock (DuckDB-file catalogs have one writer process anyway).
    """
    if not is_postgres(lake):
        yield
        return
    import psycopg2

    key = _lock_key(lake)
    with closing(catalog_session(lake)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        if not cursor.fetchone()[0]:
            log.info("another process is migrating the lake; waiting up to %.0f s", timeout_s)
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", (f"{timeout_s}s",))
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", (key,))
            except psycopg2.errors.LockNotAvailable:
                raise MigrationLockTimeoutError(
                    f"another process has been migrating the lake ({lake.description}) for "
                    f"more than {timeout_s:.0f} s; this one gave up waiting. When that "
                    "migration has finished, run `analytics-pipeline migrate --check`."
                ) from None
        yield


def lake_exists(lake: Lake) -> bool:
    """True when the catalog database holds a DuckLake (its metadata tables) for `lake`."""
    schema = lake.metadata_schema or "public"
    with closing(catalog_session(lake)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".ducklake_metadata',))
        return bool(cursor.fetchone()[0])
