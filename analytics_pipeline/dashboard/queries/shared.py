"""What every page's queries share: the row cap, running a query, its range parameters,
and which tables the lake has yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from analytics_pipeline.dashboard.ranges import DayRange

ROW_LIMIT = 500  # rows any table on a page shows at most


def dataframe(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any],
    dates: Sequence[str] = (),
) -> pd.DataFrame:
    """The result as a DataFrame; `dates` columns as datetime.date (pandas makes DATEs
    midnight timestamps)."""
    frame = conn.execute(sql, params).df()
    for name in dates:
        frame[name] = [None if pd.isna(v) else v.date() for v in frame[name]]
    return frame


def one_row(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> tuple[Any, ...]:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row


def day_params(day_range: DayRange) -> dict[str, Any]:
    return {"first": day_range.first, "last": day_range.last}


def instant_params(day_range: DayRange) -> dict[str, Any]:
    return {"start": day_range.start_ts, "end": day_range.end_ts}


def missing_tables(conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> list[str]:
    """Which of `names` the lake does not have yet (a lake no pipeline has written to)."""
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main'"
    ).fetchall()
    present = {row[0] for row in rows}
    return [name for name in names if name not in present]
