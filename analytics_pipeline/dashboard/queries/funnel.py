"""The Funnel page's queries: stage counts, flow totals, conversion and the users of a stage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from analytics_pipeline.dashboard.queries.shared import (
    ROW_LIMIT,
    dataframe,
    day_params,
    instant_params,
    one_row,
)
from analytics_pipeline.dashboard.ranges import DayRange

# The funnel's stages, where the funnel defines them (the pages read them from here).
from analytics_pipeline.funnel.stages import STAGES


@dataclass(frozen=True)
class FunnelSummary:
    """The range's funnel: stage counts on its last computed day and its flow totals."""

    first_day: date | None  # first and last computed funnel day inside the range
    last_day: date | None
    days: int
    stages: dict[str, int]  # users per stage on last_day
    new_signups: int
    newly_activated: int
    newly_inactive: int


def funnel_bounds(conn: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The first and last computed funnel day (None, None for none)."""
    first, last = one_row(conn, "SELECT min(day), max(day) FROM funnel_daily", {})
    return first, last


def funnel_series(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> pd.DataFrame:
    """One funnel_daily row per computed day of the range, by day (a few thousand at most)."""
    return dataframe(
        conn,
        "SELECT day, new_signups, signed_up, activated, active, inactive, newly_activated, "
        "newly_inactive FROM funnel_daily WHERE day BETWEEN $first AND $last ORDER BY day",
        day_params(day_range),
    )


def funnel_summary(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> FunnelSummary:
    """Flow totals over the range and the stage counts of its last computed day."""
    row = one_row(
        conn,
        """
        WITH days AS (SELECT * FROM funnel_daily WHERE day BETWEEN $first AND $last)
        SELECT
            (SELECT min(day) FROM days), (SELECT max(day) FROM days), (SELECT count(*) FROM days),
            (SELECT coalesce(sum(new_signups), 0) FROM days),
            (SELECT coalesce(sum(newly_activated), 0) FROM days),
            (SELECT coalesce(sum(newly_inactive), 0) FROM days),
            last.signed_up, last.activated, last.active, last.inactive
        FROM (SELECT 1) AS one
        LEFT JOIN (SELECT * FROM days ORDER BY day DESC LIMIT 1) AS last ON true
        """,
        day_params(day_range),
    )
    first, last, days, signups, activated, inactive, *stage_counts = row
    return FunnelSummary(
        first_day=first,
        last_day=last,
        days=int(days),
        stages={stage: int(n or 0) for stage, n in zip(STAGES, stage_counts, strict=True)},
        new_signups=int(signups),
        newly_activated=int(activated),
        newly_inactive=int(inactive),
    )


@dataclass(frozen=True)
class Conversion:
    """Cohort conversion over the range, as its last computed day sees it."""

    day: date | None
    signups: int  # signed up in the range
    signups_activated: int  # ... of whom had a meaningful action by `day`
    activated: int  # first meaningful action in the range
    activated_active: int  # ... of whom had meaningful actions on two days or more by `day`

    @staticmethod
    def rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None


def conversion(
    conn: duckdb.DuckDBPyConnection, day_range: DayRange, day: date | None
) -> Conversion:
    """Sign-up -> activated and activated -> active for the users who entered in the range."""
    if day is None:
        return Conversion(None, 0, 0, 0, 0)
    row = one_row(
        conn,
        """
        SELECT
            count(*) FILTER (WHERE signed_up_at >= $start AND signed_up_at < $end),
            count(*) FILTER (
                WHERE signed_up_at >= $start AND signed_up_at < $end AND meaningful_days >= 1),
            count(*) FILTER (WHERE first_meaningful_day BETWEEN $first AND $last),
            count(*) FILTER (
                WHERE first_meaningful_day BETWEEN $first AND $last AND meaningful_days >= 2)
        FROM users_by_activation_stage
        WHERE day = $day
        """,
        {**day_params(day_range), **instant_params(day_range), "day": day},
    )
    return Conversion(day, *(int(n) for n in row))


def users_in_stage(
    conn: duckdb.DuckDBPyConnection, day: date, stage: str, limit: int = ROW_LIMIT
) -> tuple[int, pd.DataFrame]:
    """How many users were in `stage` on `day`, and the first `limit` of them by user id."""
    params = {"day": day, "stage": stage}
    where = "FROM users_by_activation_stage WHERE day = $day AND stage = $stage"
    total = int(one_row(conn, f"SELECT count(*) {where}", params)[0])
    rows = dataframe(
        conn,
        "SELECT user_id, signed_up_at, signup_inferred, meaningful_days, first_meaningful_day, "
        f"last_meaningful_day {where} ORDER BY user_id LIMIT $limit",
        {**params, "limit": limit},
        dates=("first_meaningful_day", "last_meaningful_day"),
    )
    return total, rows
