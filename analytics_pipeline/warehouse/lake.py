"""Attaching the DuckLake warehouse: catalog in PostgreSQL, data in Parquet files.

Every process keeps one in-memory DuckDB instance with the extensions loaded and the lake
attached (loading the extensions and attaching cost ~0.9 s together); `connect` hands out
a cursor on it, which is free. A cursor sees the latest committed snapshot at the start of
each transaction, so a long-lived attachment never reads stale data.

The extensions come from their PyPI wheels (`duckdb-extension-ducklake`,
`duckdb-extension-postgres-scanner`) and are loaded from the wheel's own file; DuckDB's
auto-install is off, so nothing is ever downloaded at run time.

The catalog password never enters a connection string: libpq reads it from `PGPASSWORD`, so
no DuckDB or PostgreSQL error message can show it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import duckdb

from analytics_pipeline.settings import Settings

EXTENSIONS = ("postgres_scanner", "ducklake")
# Concurrent commits race for the next snapshot id; DuckLake retries the loser itself.
LAKE_SETTINGS = {
    "ducklake_max_retry_count": 100,
    "ducklake_retry_wait_ms": 50,
    "ducklake_retry_backoff": 1.5,
}

_lock = threading.RLock()
_instance: duckdb.DuckDBPyConnection | None = None
_attached: dict[tuple[str, str, str | None, bool], str] = {}


class LakeUnavailableError(RuntimeError):
    """The lake's catalog could not be reached or opened; the message names the catalog's host
    and database, never its password."""


@dataclass(frozen=True)
class Lake:
    """Where the lake is: `catalog` as written after `ducklake:` in an ATTACH (`postgres:` and
    a libpq connection string without the password), and the folder or URL of its data files.
    `metadata_schema` puts the catalog's tables in their own PostgreSQL schema (tests use one
    lake per test that way)."""

    catalog: str
    data_path: str
    password: str | None = field(default=None, repr=False)
    metadata_schema: str | None = None

    def __post_init__(self) -> None:
        if re.search(r"(^|\s)password\s*=", self.catalog):
            raise ValueError(
                "ANALYTICS_LAKE_CATALOG must not contain a password; "
                "set ANALYTICS_LAKE_PASSWORD instead"
            )
        if "'" in self.catalog or "'" in self.data_path:
            raise ValueError("the lake's catalog and data path must not contain quotes")
        if self.metadata_schema is not None and not re.fullmatch(r"\w+", self.metadata_schema):
            raise ValueError("metadata_schema must be a plain identifier")

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        """The lake the settings (SPEC §2) name."""
        return cls(
            catalog=settings.lake_catalog,
            data_path=settings.lake_data_path,
            password=settings.lake_password,
            metadata_schema=settings.lake_metadata_schema,
        )

    @property
    def description(self) -> str:
        """Host and database of the catalog, for messages (no secrets)."""
        fields = dict(re.findall(r"(\w+)\s*=\s*(\S+)", self.catalog))
        host = fields.get("host", "localhost")
        port = fields.get("port", "5432")
        return f"database {fields.get('dbname', '?')!r} on {host}:{port}"

    @property
    def data_folder(self) -> Path | None:
        """The data path as a local folder, or None for object storage URLs."""
        return None if "://" in self.data_path else Path(self.data_path)


def _load_extensions(conn: duckdb.DuckDBPyConnection) -> None:
    version = conn.execute("PRAGMA version").fetchone()[0]  # type: ignore[index]
    for name in EXTENSIONS:
        package = resources.files(f"duckdb_extension_{name}")
        binary = package / "extensions" / version / f"{name}.duckdb_extension"
        conn.execute(f"LOAD '{binary}'")


def _instance_conn() -> duckdb.DuckDBPyConnection:
    global _instance
    if _instance is None:
        conn = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        _load_extensions(conn)
        conn.execute("SET TimeZone = 'UTC'")
        for name, value in LAKE_SETTINGS.items():
            conn.execute(f"SET {name} = {value}")
        _instance = conn
    return _instance


def _alias(lake: Lake, read_only: bool) -> str:
    name = "analytics" if lake.metadata_schema is None else f"analytics_{lake.metadata_schema}"
    return name + ("_ro" if read_only else "")


def metadata_database(lake: Lake, read_only: bool = False) -> str:
    """The name DuckLake attaches `lake`'s catalog database under (for the read-write or the
    read-only attachment), for `postgres_query` / `postgres_execute`."""
    return f"__ducklake_metadata_{_alias(lake, read_only)}"


def _attach(lake: Lake, read_only: bool) -> str:
    key = (lake.catalog, lake.data_path, lake.metadata_schema, read_only)
    with _lock:
        alias = _attached.get(key)
        if alias is not None:
            return alias
        conn = _instance_conn()
        if lake.password:
            os.environ["PGPASSWORD"] = lake.password
        folder = lake.data_folder
        if folder is not None and not read_only:
            folder.mkdir(parents=True, exist_ok=True)
        alias = _alias(lake, read_only)
        options = [f"DATA_PATH '{lake.data_path}'"]
        if lake.metadata_schema:
            options.append(f"METADATA_SCHEMA '{lake.metadata_schema}'")
        if read_only:
            options.append("READ_ONLY")
        try:
            conn.execute(f"ATTACH 'ducklake:{lake.catalog}' AS {alias} ({', '.join(options)})")
        except duckdb.Error as error:
            raise unavailable(lake, error) from None
        _attached[key] = alias
        return alias


def unavailable(lake: Lake, error: BaseException) -> LakeUnavailableError:
    """A LakeUnavailableError for `error`, with the catalog named and any password removed."""
    text = str(error).strip().splitlines()
    reason = text[-1] if text else type(error).__name__
    if lake.password:
        reason = reason.replace(lake.password, "***")
    return LakeUnavailableError(
        f"cannot open the lake catalog ({lake.description}): {reason}. "
        "Check that PostgreSQL is running (`make up` starts the local one), that the database "
        "exists, and ANALYTICS_LAKE_CATALOG / ANALYTICS_LAKE_PASSWORD."
    )


def open_cursor(lake: Lake, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new connection to `lake` with the lake as its default database."""
    alias = _attach(lake, read_only)
    cursor = _instance_conn().cursor()
    cursor.execute(f"USE {alias}")
    return cursor


def detach(lake: Lake) -> None:
    """Forget `lake` in this process (tests: frees its catalog connections)."""
    with _lock:
        for read_only in (False, True):
            alias = _attached.pop(
                (lake.catalog, lake.data_path, lake.metadata_schema, read_only), None
            )
            if alias is not None and _instance is not None:
                _instance.execute(f"DETACH {alias}")


@contextmanager
def reading(lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the lake, closed afterwards."""
    cursor = open_cursor(lake, read_only=True)
    try:
        yield cursor
    finally:
        cursor.close()
