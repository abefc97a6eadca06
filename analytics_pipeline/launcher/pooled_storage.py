"""PooledPostgresStorage: dagster-postgres's storage, with its connections kept in a pool.

dagster-postgres gives its run, event-log and schedule storages a NullPool outside the webserver,
so the daemon and every run worker open a new PostgreSQL connection (TCP, a backend process,
SCRAM authentication) for every query. Profiled on an idle daemon of this code location, that
was 72 % of its CPU; a small ingest run opened 143 connections. This storage is the same
dagster-postgres storage (same tables, same config) with a small QueuePool per storage, each
connection checked with a ping before use so a restarted PostgreSQL costs one reconnect, not an
error. Configured in dagster.yaml as `storage: custom:`; the webserver still applies its own
pooling (`optimize_for_webserver`) on top.

Dagster builds a new instance for every sensor evaluation in the code server (from the
instance's ref), and each one checked its tables and opened its connections again: 26 % of an
idle code server's CPU. So the pools are shared by every instance of a process (per database
and storage), and the tables are checked by the first instance of a process only. A forked
child starts without them: it never uses its parent's sockets.

Dagster's schedule storage also asks PostgreSQL's catalog whether its tables and secondary
indexes exist on almost every sensor-tick write (`has_instigators_table`, `has_built_index`:
two catalog inspections per tick, three for a purge); the daemon's sensor loop spent a quarter of
its idle CPU there. A table or index, once there, stays: a positive answer is kept for the
process (a negative one is asked again, so a later `dagster instance migrate` is seen).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

# Per storage (run, event log, schedule) and process: one connection kept, as the webserver's
# pooling keeps. Threads querying at once open more, closed after use as before. Every process of
# a deployment (daemon, code server, each run worker, each test worker) holds up to three, well
# inside PostgreSQL's default max_connections of 100. (4 kept saved an idle daemon the ~10 % of
# its CPU it spends opening connections when its threads overlap, but a daemon then held 10
# connections, and six pipelines beside a test suite exhausted the 100: not worth it.)
POOL_SIZE = 1
MAX_OVERFLOW = 8
POOL_RECYCLE_S = 3600


_engines: dict[tuple[str, str], Any] = {}  # (database URL, storage class): pooled engine
_tables_checked: set[str] = set()  # database URLs whose tables this process has checked
_lock = threading.Lock()


def _forget_in_child() -> None:
    _engines.clear()
    _tables_checked.clear()
    _known_true.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def pooled_engine(storage: Any) -> Any:
    """The process's pooled engine for one dagster-postgres storage, in place of its own."""
    key = (storage.postgres_url, type(storage).__name__)
    with _lock:
        if key not in _engines:
            _engines[key] = _new_pooled_engine(storage)
        return _engines[key]


def _new_pooled_engine(storage: Any) -> Any:
    return create_pg_engine(
        storage.postgres_url,
        getattr(storage, "_token_provider", None),
        isolation_level="AUTOCOMMIT",
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_recycle=POOL_RECYCLE_S,
        pool_pre_ping=True,
    )


# Schedule-storage checks whose True answer is kept for the process (see the module's doc).
CACHED_CHECKS = (
    "has_instigators_table",
    "_has_instigators_table",
    "_has_asset_daemon_asset_evaluations_table",
    "has_secondary_index_table",
    "has_built_index",
)
_known_true: set[tuple] = set()  # (database URL, check, its arguments) answered True


def _keep_true(url: str, name: str, check: Callable[..., bool]) -> Callable[..., bool]:
    @functools.wraps(check)
    def kept(*args: Any) -> bool:
        # A connection argument (for `_has_...(conn)`) is not part of what is asked.
        key = (url, name, *(a for a in args if isinstance(a, str)))
        if key in _known_true:
            return True
        answer = check(*args)
        if answer:
            _known_true.add(key)
        return answer

    return kept


class PooledPostgresStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage whose storages keep their connections for the process."""

    def __init__(
        self, postgres_url: str, should_autocreate_tables: bool = True, **kwargs: Any
    ) -> None:
        with _lock:
            check_tables = should_autocreate_tables and postgres_url not in _tables_checked
        super().__init__(postgres_url, should_autocreate_tables=check_tables, **kwargs)
        if check_tables:
            with _lock:
                _tables_checked.add(postgres_url)
        self.should_autocreate_tables = should_autocreate_tables
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            storage._engine.dispose()  # a NullPool: nothing open to lose
            storage._engine = pooled_engine(storage)
        schedules = self._schedule_storage
        for name in CACHED_CHECKS:
            setattr(schedules, name, _keep_true(postgres_url, name, getattr(schedules, name)))

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
