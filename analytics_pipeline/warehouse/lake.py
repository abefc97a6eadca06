"""Attaching the DuckLake warehouse: catalog in PostgreSQL, data in Parquet files.

Every process keeps one in-memory DuckDB instance with the extensions loaded and the lake
attached (loading the extensions and attaching cost ~0.9 s together); `connect` hands out
a cursor on it, which is free. A cursor sees the latest committed snapshot at the start of
each transaction, so a long-lived attachment never reads stale data.

The extensions come from their PyPI wheels (`duckdb-extension-ducklake`,
`duckdb-extension-postgres-scanner`, and for a lake on S3 `duckdb-extension-httpfs` and
`duckdb-extension-aws`) and are loaded from the wheel's own file; DuckDB's auto-install is
off, so nothing is ever downloaded at run time.

The catalog password never enters a connection string nor the process environment: it sits in
a DuckDB secret of TYPE postgres that only this lake's ATTACH names (`META_SECRET`), so no
DuckDB or PostgreSQL error message can show it. A lake on S3 gets a secret of TYPE s3 scoped to
its data path the same way (warehouse/object_store.py); one set of S3 credentials per data
path and process.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import duckdb

from analytics_pipeline.settings import Settings
from analytics_pipeline.warehouse import object_store
from analytics_pipeline.warehouse.object_store import S3Access

EXTENSIONS = ("postgres_scanner", "ducklake")
# Loaded on the first lake on S3 only (they cost ~0.3 s); aws for the credential chain.
S3_EXTENSIONS = ("httpfs",)
CREDENTIAL_CHAIN_EXTENSIONS = ("aws",)
# Concurrent commits race for the next snapshot id; DuckLake retries the loser itself.
LAKE_SETTINGS = {
    "ducklake_max_retry_count": 100,
    "ducklake_retry_wait_ms": 50,
    "ducklake_retry_backoff": 1.5,
}

_lock = threading.RLock()
_instance: duckdb.DuckDBPyConnection | None = None
_attached: dict[tuple[str, str, str | None, bool], str] = {}
_lakes: dict[str, Lake] = {}  # alias -> the lake attached under it (lake_of)
_loaded: set[str] = set()


class LakeUnavailableError(RuntimeError):
    """The lake's catalog could not be reached or opened; the message names the catalog's host
    and database, never its password."""


class LakeStorageError(LakeUnavailableError):
    """The lake's data files could not be reached on the object store; the message names the
    endpoint and the bucket, never a secret."""


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
    s3: S3Access | None = None  # how to reach an s3:// data path

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
        if self.on_s3 and self.s3 is None:
            raise ValueError("a lake on s3:// needs its S3Access (region, endpoint, keys)")

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        """The lake the settings (SPEC §2) name."""
        return cls(
            catalog=settings.lake_catalog,
            data_path=settings.lake_data_path,
            password=settings.lake_password,
            metadata_schema=settings.lake_metadata_schema,
            s3=S3Access(
                region=settings.aws_region,
                endpoint_url=settings.aws_endpoint_url,
                access_key_id=settings.aws_access_key_id,
                secret_access_key=settings.aws_secret_access_key,
                session_token=settings.aws_session_token,
            )
            if settings.lake_data_path.startswith("s3://")
            else None,
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

    @property
    def on_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    @property
    def storage_description(self) -> str:
        """Endpoint and bucket of the data files, for messages (no secrets)."""
        if self.s3 is None:
            return f"folder {self.data_path}"
        bucket, _ = object_store.split_url(self.data_path)
        return f"endpoint {self.s3.endpoint}, bucket {bucket!r}"

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, to keep out of messages."""
        own = (self.password,) if self.password else ()
        return own + (self.s3.secrets() if self.s3 else ())


def load_extensions(conn: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    """LOAD each extension from its PyPI wheel's own file (never a download)."""
    version = conn.execute("PRAGMA version").fetchone()[0]  # type: ignore[index]
    for name in names:
        package = resources.files(f"duckdb_extension_{name}")
        binary = package / "extensions" / version / f"{name}.duckdb_extension"
        conn.execute(f"LOAD '{binary}'")


def _ensure_loaded(conn: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    """Load on the process's instance what it has not loaded yet."""
    missing = tuple(name for name in names if name not in _loaded)
    load_extensions(conn, missing)
    _loaded.update(missing)


def _instance_conn() -> duckdb.DuckDBPyConnection:
    global _instance
    if _instance is None:
        conn = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        _loaded.clear()
        _ensure_loaded(conn, EXTENSIONS)
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
        alias = _alias(lake, read_only)
        options = [f"DATA_PATH '{lake.data_path}'"]
        if lake.password:
            options.append(f"META_SECRET '{_catalog_secret(conn, lake)}'")
        folder = lake.data_folder
        if folder is not None and not read_only:
            folder.mkdir(parents=True, exist_ok=True)
        if lake.s3 is not None:
            _open_object_store(conn, lake, lake.s3)
        if lake.metadata_schema:
            options.append(f"METADATA_SCHEMA '{lake.metadata_schema}'")
        if read_only:
            options.append("READ_ONLY")
        try:
            conn.execute(f"ATTACH 'ducklake:{lake.catalog}' AS {alias} ({', '.join(options)})")
        except duckdb.Error as error:
            raise unavailable(lake, error) from None
        _attached[key] = alias
        _lakes[alias] = lake
        return alias


def lake_of(conn: duckdb.DuckDBPyConnection) -> Lake | None:
    """The lake a connection from `open_cursor` uses (its default database), if any."""
    row = conn.execute("SELECT current_database()").fetchone()
    return _lakes.get(row[0]) if row else None


def _secret_name(kind: str, *parts: str) -> str:
    return f"analytics_{kind}_{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:12]}"


def _create_secret(conn: duckdb.DuckDBPyConnection, lake: Lake, sql: str, what: str) -> None:
    """Run a CREATE SECRET; its text holds secret values, so a failure never shows it."""
    try:
        conn.execute(sql)
    except duckdb.Error as error:
        reason = object_store.first_line(error, lake.secrets())
        if object_store.is_storage_error(error):
            raise storage_unavailable(lake, error) from None
        raise LakeUnavailableError(f"cannot set up {what}: {reason}") from None


def _catalog_secret(conn: duckdb.DuckDBPyConnection, lake: Lake) -> str:
    """A DuckDB secret holding the catalog password, named for this catalog only."""
    assert lake.password is not None
    name = _secret_name("catalog", lake.catalog)
    password = object_store.literal(lake.password)
    sql = f"CREATE OR REPLACE SECRET {name} (TYPE postgres, PASSWORD {password})"
    _create_secret(conn, lake, sql, f"the lake catalog's password ({lake.description})")
    return name


def _open_object_store(conn: duckdb.DuckDBPyConnection, lake: Lake, access: S3Access) -> None:
    """Load httpfs (and aws for the credential chain), create the data path's secret, and
    list the data path once so a wrong key, bucket or endpoint fails here, clearly."""
    _ensure_loaded(conn, S3_EXTENSIONS)
    if access.uses_credential_chain:
        _ensure_loaded(conn, CREDENTIAL_CHAIN_EXTENSIONS)
    name = _secret_name("s3", lake.data_path)
    sql = object_store.secret_sql(name, access, lake.data_path)
    _create_secret(conn, lake, sql, f"access to the lake's data files ({lake.storage_description})")
    try:
        object_store.probe(conn, lake.data_path)
    except duckdb.Error as error:
        raise storage_unavailable(lake, error) from None


def storage_unavailable(lake: Lake, error: BaseException) -> LakeStorageError:
    """A LakeStorageError for an object-store `error`: endpoint and bucket named, what to do
    said, secrets removed."""
    assert lake.s3 is not None
    bucket, _ = object_store.split_url(lake.data_path)
    return LakeStorageError(
        f"cannot use the lake's data files at {lake.data_path} ({lake.storage_description}): "
        f"{object_store.advice(error, lake.s3, bucket)}. "
        f"DuckDB said: {object_store.first_line(error, lake.secrets())}"
    )


def unavailable(lake: Lake, error: BaseException) -> LakeUnavailableError:
    """A LakeUnavailableError for `error`, naming the catalog (or, for an object-store error,
    the endpoint and bucket), with every secret removed."""
    if lake.s3 is not None and object_store.is_storage_error(error):
        return storage_unavailable(lake, error)
    text = str(error).strip().splitlines()
    reason = text[-1] if text else type(error).__name__
    for secret in lake.secrets():
        reason = reason.replace(secret, "***")
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
