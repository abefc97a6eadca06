"""One writer per Kafka partition at a time: advisory locks on the lake's catalog database.

DuckLake detects conflicts per table, not per row: an UPDATE or DELETE conflicts with any
concurrent write to the same table (ducklake_transaction_state.cpp, CheckForConflicts), while
two transactions that only INSERT into a table never conflict. So ingest writers only append
(raw rows, key rows, dead letters, ledger rows), and what used to make overlapping writers
conflict (every batch updating one batch counter) is replaced by a lock per (lake, topic,
partition): a writer holds the locks of its batch's partitions from its first insert to its
commit, and checks under them that the ledger is where its batch started. Writers of disjoint
partitions never wait for each other, and never conflict at commit.

The locks are PostgreSQL session advisory locks on a connection of their own, so another host
sees them, and a writer that dies releases them with its connection. A lake whose catalog is
not PostgreSQL (a DuckDB file: one writing process) needs none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from analytics_pipeline.warehouse.catalog_db import catalog_session, is_postgres
from analytics_pipeline.warehouse.lake import Lake, lake_of

# A batch holds its partitions for seconds at most; a wait this long means a stuck writer.
LOCK_TIMEOUT_S = 120


def lock_key(lake: Lake, topic: str, partition: int) -> int:
    """A signed 64-bit advisory lock key per lake, topic and partition."""
    name = f"analytics_pipeline ingest {lake.metadata_schema or 'public'} {topic} {partition}"
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PartitionLocks:
    """Holds partition locks on one catalog session, opened at the first `hold`."""

    def __init__(self, lake: Lake | None, timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self.lake = lake if lake is not None and is_postgres(lake) else None
        self.timeout_s = timeout_s
        self._session: Any = None

    @classmethod
    def for_connection(cls, conn: duckdb.DuckDBPyConnection) -> PartitionLocks:
        """The locks of the lake `conn` writes (none for a lake without a PostgreSQL catalog)."""
        return cls(lake_of(conn))

    @contextmanager
    def hold(self, topic: str, partitions: Iterable[int]) -> Iterator[None]:
        """Wait for, then hold, the locks of `partitions` (in key order: no deadlock)."""
        if self.lake is None:
            yield
            return
        keys = sorted({lock_key(self.lake, topic, p) for p in partitions})
        cursor = self._cursor()
        taken: list[int] = []
        try:
            for key in keys:
                cursor.execute("SELECT pg_advisory_lock(%s)", (key,))
                taken.append(key)
            yield
        finally:
            for key in reversed(taken):
                cursor.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _cursor(self) -> Any:
        if self._session is None:
            assert self.lake is not None
            self._session = catalog_session(self.lake)
            with self._session.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, false)", (f"{self.timeout_s:.0f}s",)
                )
        return self._session.cursor()
