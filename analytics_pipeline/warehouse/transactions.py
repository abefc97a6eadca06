"""Transactions on the lake and their commit-conflict retries; a table's columns.

Any number of processes may read and write the lake at once. Two transactions that change
the same table (an UPDATE or DELETE in one, any write in the other) conflict when the second
commits: DuckLake then rolls it back and `retry_conflicts` runs it again after a back-off.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import duckdb

T = TypeVar("T")
log = logging.getLogger(__name__)

CONFLICT_ATTEMPTS = 8
CONFLICT_BASE_DELAY_S = 0.2


def describe_table(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, bool]]:
    """(column, type, nullable) of a lake table or view in `main`, [] when it does not exist.

    `DESCRIBE` takes ~3 ms; `duckdb_columns()` ~0.4 s on a process's first call (it reads
    every attached catalog), which every run would pay.
    """
    try:
        rows = conn.execute(f'DESCRIBE main."{table}"').fetchall()
    except duckdb.CatalogException:
        return []
    return [(name, type_, nullable == "YES") for name, type_, nullable, *_ in rows]


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, or ROLLBACK on any exception: all of a batch or none of it."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended it already
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def is_conflict(error: BaseException) -> bool:
    """True for a commit conflict: another transaction changed the same table (DuckLake's
    check), or the catalog database refused a concurrent update (PostgreSQL serialisation;
    DuckLake may report it as the catalog transaction it aborted)."""
    if not isinstance(error, duckdb.Error):
        return False
    text = str(error).lower()
    return (
        "transaction conflict" in text
        or "could not serialize access" in text
        or ("in ducklake" in text and "current transaction is aborted" in text)
        or (isinstance(error, duckdb.TransactionException) and "conflict" in text)
    )


def retry_conflicts(
    work: Callable[[], T],
    *,
    what: str,
    attempts: int = CONFLICT_ATTEMPTS,
    base_delay_s: float = CONFLICT_BASE_DELAY_S,
    on_retry: Callable[[str], None] | None = None,
    conn: duckdb.DuckDBPyConnection | None = None,
) -> T:
    """Run `work` (one whole transaction), again after a back-off while its commit conflicts.

    `work` must start from what is committed each time (it re-reads what it depends on), so a
    retry never applies anything twice. Each retry is reported through `on_retry` (a run's
    log) or this module's logger. Pass `conn` when `work` runs single statements on it: a
    conflict leaves that connection's transaction aborted until it is rolled back.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except duckdb.Error as error:
            if not is_conflict(error) or attempt == attempts:
                raise
            if conn is not None:  # a failed statement leaves its transaction aborted
                with contextlib.suppress(duckdb.Error):
                    conn.execute("ROLLBACK")
            delay = base_delay_s * 2 ** (attempt - 1) * (0.5 + random.random())
            message = (
                f"commit conflict while {what} (attempt {attempt} of {attempts}): another "
                f"writer changed the same table; retrying in {delay:.2f} s"
            )
            (on_retry or log.warning)(message)
            time.sleep(delay)
    raise AssertionError("unreachable")
