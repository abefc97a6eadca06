"""The Journey page's queries: find a user or visitor, their actions and stage history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from analytics_pipeline.dashboard.queries.shared import (
    ROW_LIMIT,
    dataframe,
    day_params,
    instant_params,
)
from analytics_pipeline.dashboard.ranges import DayRange


@dataclass(frozen=True)
class JourneyMatch:
    """What a search found: a user (maybe through one of their anonymous ids), or only an
    anonymous visitor's events."""

    kind: str  # "user", "anonymous" or "none"
    user_id: str | None = None
    anonymous_id: str | None = None


def find_journey(conn: duckdb.DuckDBPyConnection, text: str) -> JourneyMatch:
    """Resolve a searched id: a user id, else an anonymous id linked to a user, else an
    anonymous id with events of no known user."""
    params = {"id": text}
    if conn.execute("SELECT 1 FROM user_journeys WHERE user_id = $id LIMIT 1", params).fetchone():
        return JourneyMatch("user", user_id=text)
    linked = conn.execute(
        "SELECT user_id FROM user_identities WHERE anonymous_id = $id ORDER BY linked_at LIMIT 1",
        params,
    ).fetchone()
    if linked:
        return JourneyMatch("user", user_id=linked[0], anonymous_id=text)
    if conn.execute(
        "SELECT 1 FROM journey_events_anonymous WHERE anonymous_id = $id LIMIT 1", params
    ).fetchone():
        return JourneyMatch("anonymous", anonymous_id=text)
    return JourneyMatch("none")


def similar_user_ids(conn: duckdb.DuckDBPyConnection, text: str, limit: int = 10) -> list[str]:
    """User ids containing `text` (for a search that matched nothing exactly)."""
    rows = conn.execute(
        "SELECT user_id FROM user_journeys WHERE contains(lower(user_id), lower($text)) "
        "ORDER BY user_id LIMIT $limit",
        {"text": text, "limit": limit},
    ).fetchall()
    return [row[0] for row in rows]


def user_profile(conn: duckdb.DuckDBPyConnection, user_id: str) -> dict[str, Any] | None:
    """The user's user_journeys row, as a dict."""
    cursor = conn.execute(
        "SELECT user_id, signed_up_at, signup_inferred, first_meaningful_at, last_meaningful_at, "
        "meaningful_days, last_seen_at, actions FROM user_journeys WHERE user_id = $id",
        {"id": user_id},
    )
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([column[0] for column in cursor.description], row, strict=True))


def journey_actions(
    conn: duckdb.DuckDBPyConnection,
    match: JourneyMatch,
    day_range: DayRange,
    limit: int = ROW_LIMIT,
) -> tuple[int, pd.DataFrame]:
    """The match's actions in the range, oldest first (at most `limit`), and how many there are.

    `attributed_via` names the anonymous id a browser event was attributed through (events
    sent before the user logged in).
    """
    params = {**instant_params(day_range), "limit": limit}
    if match.kind == "user":
        source = (
            "SELECT ts, action, details, source_topic, event_id, "
            "CASE WHEN user_via_identity THEN anonymous_id END AS attributed_via "
            "FROM journey_events_by_user WHERE user_id = $key"
        )
        params["key"] = match.user_id
    else:
        source = (
            "SELECT ts, action, details, source_topic, event_id, NULL AS attributed_via "
            "FROM journey_events_anonymous WHERE anonymous_id = $key"
        )
        params["key"] = match.anonymous_id
    rows = dataframe(
        conn,
        f"""
        WITH events AS ({source}), in_range AS (
            SELECT * FROM events WHERE ts >= $start AND ts < $end
        )
        SELECT ts, action, attributed_via, CAST(details AS VARCHAR) AS details, source_topic,
            event_id, count(*) OVER () AS total
        FROM in_range ORDER BY ts, event_id LIMIT $limit
        """,
        params,
    )
    total = int(rows["total"].iloc[0]) if len(rows) else 0
    return total, rows.drop(columns=["total"])


def stage_history(
    conn: duckdb.DuckDBPyConnection,
    user_id: str,
    day_range: DayRange,
    *,
    inactive_after_days: int,
    limit: int = ROW_LIMIT,
) -> pd.DataFrame:
    """The user's stage day by day (SPEC §6) over the computed funnel days of the range, as
    runs of consecutive days in one stage.

    Derived from the user's sign-up and meaningful days (a few rows) with the funnel's rule,
    not read from users_by_activation_stage: finding one user there scans every stage row of
    every day (100 M+ at 1M users), seconds; the tests hold both to the same days."""
    return dataframe(
        conn,
        """
        WITH bounds AS (
            SELECT greatest(s.signup_day, $first) AS first,
                least($last, (SELECT max(day) FROM funnel_daily)) AS last
            FROM user_signups AS s WHERE s.user_id = $id
        ), days AS (
            SELECT CAST(d AS DATE) AS day
            FROM bounds, generate_series(bounds.first, bounds.last, INTERVAL 1 DAY) AS t(d)
            WHERE bounds.first <= bounds.last
        ), meaningful AS (
            SELECT day FROM user_meaningful_days WHERE user_id = $id
        ), staged AS (
            SELECT days.day,
                CASE
                    WHEN count(m.day) = 0 THEN 'signed_up'
                    WHEN max(m.day) < days.day - ($w - 1) THEN 'inactive'
                    WHEN count(m.day) = 1 THEN 'activated'
                    ELSE 'active'
                END AS stage
            FROM days LEFT JOIN meaningful AS m ON m.day <= days.day
            GROUP BY days.day
        ), runs AS (
            SELECT day, stage,
                day - CAST(row_number() OVER (PARTITION BY stage ORDER BY day) AS INTEGER) AS run
            FROM staged
        )
        SELECT min(day) AS first_day, max(day) AS last_day, stage, count(*) AS days
        FROM runs GROUP BY stage, run ORDER BY first_day LIMIT $limit
        """,
        {**day_params(day_range), "id": user_id, "w": inactive_after_days, "limit": limit},
        dates=("first_day", "last_day"),
    )


def stored_stage_history(
    conn: duckdb.DuckDBPyConnection, user_id: str, day_range: DayRange
) -> pd.DataFrame:
    """The same runs read from users_by_activation_stage (slow at scale: for the tests)."""
    return dataframe(
        conn,
        """
        WITH days AS (
            SELECT day, stage,
                day - CAST(row_number() OVER (PARTITION BY stage ORDER BY day) AS INTEGER) AS run
            FROM users_by_activation_stage
            WHERE user_id = $id AND day BETWEEN $first AND $last
        )
        SELECT min(day) AS first_day, max(day) AS last_day, stage, count(*) AS days
        FROM days GROUP BY stage, run ORDER BY first_day
        """,
        {**day_params(day_range), "id": user_id},
        dates=("first_day", "last_day"),
    )
