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


# The keys in array order (sorted by the caller); a function scan of unnest returns them in
# that order, and the aggregate calls the lock function row by row as they come.
_LOCK_ALL = "SELECT count(pg_advisory_lock(k)) FROM unnest(%s::bigint[]) AS k"
_UNLOCK_ALL = "SELECT count(pg_advisory_unlock(k)) FROM unnest(%s::bigint[]) AS k"


class PartitionLocks:
    """Holds partition locks on one catalog session, opened at the first `hold`."""

    def __init__(self, lake: Lake | None, timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self.lake = lake if lake is not None and is_postgres(lake) else None
        self.timeout_s = timeout_s
        self._session: Any = None
        # Statements sent to PostgreSQL, for the benches' count of catalog round trips (these
        # do not pass through DuckDB, so its query log does not see them).
        self.round_trips = 0

    @classmethod
    def for_connection(cls, conn: duckdb.DuckDBPyConnection) -> PartitionLocks:
        """The locks of the lake `conn` writes (none for a lake without a PostgreSQL catalog)."""
        return cls(lake_of(conn))

    @contextmanager
    def hold(self, topic: str, partitions: Iterable[int]) -> Iterator[None]:
        """Wait for, then hold, the locks of `partitions` (in key order: no deadlock). One
        statement takes them all and one gives them back: two round trips per batch."""
        if self.lake is None:
            yield
            return
        keys = sorted({lock_key(self.lake, topic, p) for p in partitions})
        cursor = self._cursor()
        try:
            self.round_trips += 1
            cursor.execute(_LOCK_ALL, (keys,))
            yield
        finally:
            # Also after a failed lock statement (lock_timeout): session locks it took before
            # failing stay held through the rollback. Unlocking a key not held only warns.
            self.round_trips += 1
            cursor.execute(_UNLOCK_ALL, (keys,))

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _cursor(self) -> Any:
        if self._session is None:
            assert self.lake is not None
            self._session = catalog_session(self.lake)
            with self._session.cursor() as cursor:
                self.round_trips += 1
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, false)", (f"{self.timeout_s:.0f}s",)
                )
        return self._session.cursor()
