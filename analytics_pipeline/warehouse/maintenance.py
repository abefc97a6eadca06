"""Upkeep of the lake: every micro-batch commit adds Parquet files and a snapshot.

Without upkeep a day of live traffic leaves thousands of small files (and delete files from
updates), and every query opens them all. `maintain` merges small files, rewrites files that
carry deletes, writes out inlined rows, expires snapshots older than the time-travel
retention and deletes the files nothing refers to any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

# An in-flight transaction's new files are on disk before they are in the catalog: never
# delete a file younger than this as an orphan.
ORPHAN_MIN_AGE = timedelta(hours=1)
# Rewrite every data file that carries deletes. Each journeys batch updates a few hundred
# user_journeys rows (a delete file on the table's one big file each time); at a 10 % threshold
# a day of micro-batches left ~150 delete files that every query applied, for a rewrite of
# ~1.3 s per upkeep at 1 M users.
REWRITE_DELETE_THRESHOLD = 0.0


@dataclass(frozen=True)
class LakeFiles:
    """What the lake's current snapshot refers to, and how much time travel it holds."""

    data_files: int
    data_bytes: int
    delete_files: int
    delete_bytes: int
    snapshots: int

    @property
    def files(self) -> int:
        return self.data_files + self.delete_files

    @property
    def bytes(self) -> int:
        return self.data_bytes + self.delete_bytes


def _catalog(conn: duckdb.DuckDBPyConnection) -> str:
    name = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    return str(name)


def lake_files(conn: duckdb.DuckDBPyConnection) -> LakeFiles:
    """File counts and bytes of every table, and the number of retained snapshots."""
    catalog = _catalog(conn)
    row = conn.execute(
        """
        SELECT coalesce(sum(file_count), 0), coalesce(sum(file_size_bytes), 0),
               coalesce(sum(delete_file_count), 0), coalesce(sum(delete_file_size_bytes), 0)
        FROM ducklake_table_info($catalog)
        """,
        {"catalog": catalog},
    ).fetchone()
    snapshots = conn.execute(
        "SELECT count(*) FROM ducklake_snapshots($catalog)", {"catalog": catalog}
    ).fetchone()
    assert row is not None and snapshots is not None
    return LakeFiles(*(int(v) for v in row), snapshots=int(snapshots[0]))


@dataclass(frozen=True)
class MaintenanceResult:
    before: LakeFiles
    after: LakeFiles
    files_merged: int
    files_rewritten: int
    snapshots_expired: int
    files_deleted: int


def maintain(
    conn: duckdb.DuckDBPyConnection, *, retention: timedelta, now: datetime
) -> MaintenanceResult:
    """One round of upkeep. Each call commits on its own, so a writer that commits meanwhile
    only makes one of them conflict (the caller retries); readers are never blocked."""
    catalog = _catalog(conn)
    params = {"catalog": catalog}
    before = lake_files(conn)
    conn.execute("CALL ducklake_flush_inlined_data($catalog)", params)
    merged = conn.execute("CALL ducklake_merge_adjacent_files($catalog)", params).fetchall()
    rewritten = conn.execute(
        "CALL ducklake_rewrite_data_files($catalog, delete_threshold => $threshold)",
        {**params, "threshold": REWRITE_DELETE_THRESHOLD},
    ).fetchall()
    if rewritten:  # the rewritten files are small again: merge them with their neighbours
        merged += conn.execute("CALL ducklake_merge_adjacent_files($catalog)", params).fetchall()
    expired = conn.execute(
        "CALL ducklake_expire_snapshots($catalog, older_than => $cutoff)",
        {**params, "cutoff": now - retention},
    ).fetchall()
    deleted = conn.execute("CALL ducklake_cleanup_old_files($catalog, cleanup_all => true)", params)
    deleted_files = len(deleted.fetchall())
    orphans = conn.execute(
        "CALL ducklake_delete_orphaned_files($catalog, older_than => $cutoff)",
        {**params, "cutoff": now - ORPHAN_MIN_AGE},
    ).fetchall()
    return MaintenanceResult(
        before=before,
        after=lake_files(conn),
        files_merged=sum(int(row[2]) for row in merged),
        files_rewritten=sum(int(row[2]) for row in rewritten),
        snapshots_expired=len(expired),
        files_deleted=deleted_files + len(orphans),
    )
