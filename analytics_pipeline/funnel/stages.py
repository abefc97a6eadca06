"""users_by_activation_stage and funnel_daily for a range of days (SPEC §6), in DuckDB SQL.

`compute_funnel` rewrites the days [first_day, last_day] (delete + insert in one transaction
per table), so re-running a day is idempotent. One day is one aggregation per user; a range
expands each user's segments between meaningful dates into days, so a 90-day backfill is
one statement, not a (user x day) join. Tests hold both to the same rows. The
stage of day D uses each user's sign-up time (user_journeys.signed_up_at, a property of the
user) and only the meaningful dates up to D (user_meaningful_days), so computing a past day
later gives the same rows as computing it on the day, given the same events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from datetime import date, timedelta
from typing import Any

import duckdb

from analytics_pipeline.warehouse.connection import transaction
from analytics_pipeline.warehouse.named_sql import run

SQL_FILE = "analytics_pipeline.funnel:funnel.sql"
CHUNK_DAYS = 7  # a long range is written a week at a time (see insert_stages_range)
STAGES: tuple[str, ...] = ("signed_up", "activated", "active", "inactive")


@dataclass(frozen=True)
class FunnelDay:
    """One funnel_daily row."""

    day: date
    new_signups: int
    signed_up: int
    activated: int
    active: int
    inactive: int
    newly_activated: int
    newly_inactive: int

    def count(self, stage: str) -> int:
        """Users in `stage` (one of STAGES) that day."""
        return int(getattr(self, stage))

    @property
    def signed_up_users(self) -> int:
        return self.signed_up + self.activated + self.active + self.inactive

    def counts(self) -> dict[str, int]:
        """The counts by column name, without the day."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "day"}


def compute_funnel(
    conn: duckdb.DuckDBPyConnection,
    first_day: date,
    last_day: date,
    *,
    inactive_after_days: int,
) -> list[FunnelDay]:
    """Rewrite both funnel tables for every day in [first_day, last_day]; return the days."""
    compute_stages(conn, first_day, last_day, inactive_after_days=inactive_after_days)
    return compute_daily(conn, first_day, last_day, inactive_after_days=inactive_after_days)


def compute_stages(
    conn: duckdb.DuckDBPyConnection,
    first_day: date,
    last_day: date,
    *,
    inactive_after_days: int,
) -> int:
    """Rewrite users_by_activation_stage for the days (one transaction); return its row count."""
    params = _checked_params(first_day, last_day, inactive_after_days)
    written = 0
    with transaction(conn):
        run(conn, SQL_FILE, "delete_stages", params)
        if first_day == last_day:
            row = run(conn, SQL_FILE, "insert_stages_one_day", params).fetchone()
            written = int(row[0]) if row else 0
        else:
            start = first_day
            while start <= last_day:
                end = min(last_day, start + timedelta(days=CHUNK_DAYS - 1))
                chunk = {**params, "first_day": start, "last_day": end}
                row = run(conn, SQL_FILE, "insert_stages_range", chunk).fetchone()
                written += int(row[0]) if row else 0
                start = end + timedelta(days=1)
    return written


def compute_daily(
    conn: duckdb.DuckDBPyConnection,
    first_day: date,
    last_day: date,
    *,
    inactive_after_days: int,
) -> list[FunnelDay]:
    """Rewrite funnel_daily for the days from users_by_activation_stage; return the rows."""
    params = _checked_params(first_day, last_day, inactive_after_days)
    with transaction(conn):
        run(conn, SQL_FILE, "delete_daily", params)
        run(conn, SQL_FILE, "insert_daily", params)
    return funnel_days(conn, first_day, last_day)


def funnel_days(
    conn: duckdb.DuckDBPyConnection, first_day: date, last_day: date
) -> list[FunnelDay]:
    """The stored funnel_daily rows of the range, by day."""
    rows = run(conn, SQL_FILE, "daily_rows", _params(first_day, last_day)).fetchall()
    return [FunnelDay(*row) for row in rows]


def stage_counts(
    conn: duckdb.DuckDBPyConnection, first_day: date, last_day: date
) -> dict[date, dict[str, int]]:
    """Users per stage for every day of the range (zeros included), from the stage rows."""
    counts = {
        first_day + timedelta(days=n): dict.fromkeys(STAGES, 0)
        for n in range((last_day - first_day).days + 1)
    }
    rows = run(conn, SQL_FILE, "stage_counts", _params(first_day, last_day)).fetchall()
    for day, stage, users in rows:
        counts[day][stage] = users
    return counts


def days_with_wrong_stage_rows(
    conn: duckdb.DuckDBPyConnection, first_day: date, last_day: date
) -> list[tuple[Any, ...]]:
    """Days where a signed-up user is missing, doubled, or a non-signed-up user is present."""
    return run(conn, SQL_FILE, "check_one_stage_per_user", _params(first_day, last_day)).fetchall()


def days_with_wrong_stage_total(
    conn: duckdb.DuckDBPyConnection, first_day: date, last_day: date
) -> list[tuple[Any, ...]]:
    """Days whose four stage counts do not add up to the signed-up users (or are missing)."""
    return run(conn, SQL_FILE, "check_stage_counts_add_up", _params(first_day, last_day)).fetchall()


def days_where_daily_differs_from_stages(
    conn: duckdb.DuckDBPyConnection, first_day: date, last_day: date
) -> list[date]:
    """Days whose funnel_daily row is not the aggregation of users_by_activation_stage."""
    rows = run(conn, SQL_FILE, "check_daily_matches_stages", _params(first_day, last_day))
    return [row[0] for row in rows.fetchall()]


def counts_markdown(today: FunnelDay, previous: FunnelDay | None) -> str:
    """The day's counts as a Markdown table, with the change versus the day before."""
    lines = [
        f"| {today.day.isoformat()} | count | change vs previous day |",
        "|---|---:|---:|",
    ]
    before = previous.counts() if previous else {}
    for name, value in today.counts().items():
        change = _signed(value - before[name]) if name in before else "n/a"
        lines.append(f"| {name} | {value} | {change} |")
    return "\n".join(lines)


def deltas(today: FunnelDay, previous: FunnelDay | None) -> dict[str, int]:
    """Per column, today's count minus the previous day's (empty without a previous day)."""
    if previous is None:
        return {}
    before = previous.counts()
    return {name: value - before[name] for name, value in today.counts().items()}


def as_tuples(days: Sequence[FunnelDay]) -> list[tuple[Any, ...]]:
    return [astuple(day) for day in days]


def _signed(value: int) -> str:
    return f"+{value}" if value > 0 else str(value)


def _checked_params(first_day: date, last_day: date, w: int) -> dict[str, Any]:
    if last_day < first_day:
        raise ValueError(f"empty day range {first_day}..{last_day}")
    if w < 1:
        raise ValueError("inactive_after_days (W) must be at least 1")
    return _params(first_day, last_day, w=w)


def _params(first_day: date, last_day: date, *, w: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"first_day": first_day, "last_day": last_day}
    if w is not None:
        params["w"] = w
    return params
