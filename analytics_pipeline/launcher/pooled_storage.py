"""PooledPostgresStorage: dagster-postgres's storage, with its connections kept in a pool.

dagster-postgres gives its run, event-log and schedule storages a NullPool outside the webserver,
so the daemon and every run worker open a new PostgreSQL connection (TCP, a backend process,
SCRAM authentication) for every query. Profiled on an idle daemon of this code location, that
was 72 % of its CPU; a small ingest run opened 143 connections. This storage is the same
dagster-postgres storage (same tables, same config) with a small QueuePool per storage, each
connection checked with a ping before use so a restarted PostgreSQL costs one reconnect, not an
error. Configured in dagster.yaml as `storage: custom:`; the webserver still applies its own
pooling (`optimize_for_webserver`) on top.
"""

from __future__ import annotations

from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

# Per storage (run, event log, schedule). Connections beyond POOL_SIZE (threads querying at
# once) are opened and closed as before.
POOL_SIZE = 2
MAX_OVERFLOW = 8
POOL_RECYCLE_S = 3600


def pooled_engine(storage: Any) -> Any:
    """A pooled engine for one dagster-postgres storage, in place of its NullPool one."""
    return create_pg_engine(
        storage.postgres_url,
        getattr(storage, "_token_provider", None),
        isolation_level="AUTOCOMMIT",
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_recycle=POOL_RECYCLE_S,
        pool_pre_ping=True,
    )


class PooledPostgresStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage whose storages keep their connections for the process."""

    def __init__(self, postgres_url: str, **kwargs: Any) -> None:
        super().__init__(postgres_url, **kwargs)
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            storage._engine.dispose()  # a NullPool: nothing open to lose
            storage._engine = pooled_engine(storage)

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> PooledPostgresStorage:
        return cls(
            pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
            token_provider=get_token_provider_from_config(config_value),
        )
