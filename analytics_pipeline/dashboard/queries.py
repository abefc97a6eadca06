"""Every query the dashboard runs: plain SQL with parameters over a read-only lake connection.

Each function aggregates in SQL and caps the rows it returns, so a page costs the same at
all-time over millions of users as over one week. Results are pandas DataFrames (the pages
chart and tabulate them) or small dataclasses. Nothing here knows about Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from analytics_pipeline.alerts.rules import RULE_NAMES
from analytics_pipeline.dashboard.ranges import DayRange

STAGES = ("signed_up", "activated", "active", "inactive")
ALERT_RULES = RULE_NAMES  # the rules of alerts/rules/
ALERT_STATUSES = ("pending", "failed", "sent", "skipped")
ROW_LIMIT = 500  # rows any table on a page shows at most
SAMPLE_BYTES = 400  # bytes of a dead letter's raw value shown


def _df(
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


def _one(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> tuple[Any, ...]:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row


def _days(day_range: DayRange) -> dict[str, Any]:
    return {"first": day_range.first, "last": day_range.last}


def _instants(day_range: DayRange) -> dict[str, Any]:
    return {"start": day_range.start_ts, "end": day_range.end_ts}


# --- the lake itself -------------------------------------------------------------------------


def missing_tables(conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> list[str]:
    """Which of `names` the lake does not have yet (a lake no pipeline has written to)."""
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main'"
    ).fetchall()
    present = {row[0] for row in rows}
    return [name for name in names if name not in present]


# --- funnel ----------------------------------------------------------------------------------


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
    first, last = _one(conn, "SELECT min(day), max(day) FROM funnel_daily", {})
    return first, last


def funnel_series(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> pd.DataFrame:
    """One funnel_daily row per computed day of the range, by day (a few thousand at most)."""
    return _df(
        conn,
        "SELECT day, new_signups, signed_up, activated, active, inactive, newly_activated, "
        "newly_inactive FROM funnel_daily WHERE day BETWEEN $first AND $last ORDER BY day",
        _days(day_range),
    )


def funnel_summary(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> FunnelSummary:
    """Flow totals over the range and the stage counts of its last computed day."""
    row = _one(
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
        _days(day_range),
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
    row = _one(
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
        {**_days(day_range), **_instants(day_range), "day": day},
    )
    return Conversion(day, *(int(n) for n in row))


def users_in_stage(
    conn: duckdb.DuckDBPyConnection, day: date, stage: str, limit: int = ROW_LIMIT
) -> tuple[int, pd.DataFrame]:
    """How many users were in `stage` on `day`, and the first `limit` of them by user id."""
    params = {"day": day, "stage": stage}
    where = "FROM users_by_activation_stage WHERE day = $day AND stage = $stage"
    total = int(_one(conn, f"SELECT count(*) {where}", params)[0])
    rows = _df(
        conn,
        "SELECT user_id, signed_up_at, signup_inferred, meaningful_days, first_meaningful_day, "
        f"last_meaningful_day {where} ORDER BY user_id LIMIT $limit",
        {**params, "limit": limit},
        dates=("first_meaningful_day", "last_meaningful_day"),
    )
    return total, rows


# --- journeys --------------------------------------------------------------------------------


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
    params = {**_instants(day_range), "limit": limit}
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
    rows = _df(
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
    return _df(
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
        {**_days(day_range), "id": user_id, "w": inactive_after_days, "limit": limit},
        dates=("first_day", "last_day"),
    )


def stored_stage_history(
    conn: duckdb.DuckDBPyConnection, user_id: str, day_range: DayRange
) -> pd.DataFrame:
    """The same runs read from users_by_activation_stage (slow at scale: for the tests)."""
    return _df(
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
        {**_days(day_range), "id": user_id},
        dates=("first_day", "last_day"),
    )


# --- alerts ----------------------------------------------------------------------------------


def alert_rules(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The SPEC's rules and any other rule the table holds."""
    rows = conn.execute("SELECT DISTINCT rule FROM alerts").fetchall()
    return sorted(set(ALERT_RULES) | {row[0] for row in rows})


def alert_counts(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> dict[str, int]:
    """Alerts created in the range, per status (every status present, zeros included)."""
    rows = conn.execute(
        "SELECT status, count(*) FROM alerts WHERE created_at >= $start AND created_at < $end "
        "GROUP BY status",
        _instants(day_range),
    ).fetchall()
    counts = dict.fromkeys(ALERT_STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def alerts_list(
    conn: duckdb.DuckDBPyConnection,
    day_range: DayRange,
    rules: Sequence[str],
    statuses: Sequence[str],
    limit: int = ROW_LIMIT,
) -> tuple[int, pd.DataFrame]:
    """Alerts created in the range with one of `rules` and `statuses` (empty: any), newest first:
    failed and pending ones before the rest."""
    params = {
        **_instants(day_range),
        "rules": list(rules),
        "statuses": list(statuses),
        "limit": limit,
    }
    rows = _df(
        conn,
        """
        SELECT created_at, rule, user_id, entity, status, attempts, last_error, event_ts,
            sent_at, alert_key, count(*) OVER () AS total
        FROM alerts
        WHERE created_at >= $start AND created_at < $end
            AND (len($rules) = 0 OR list_contains($rules, rule))
            AND (len($statuses) = 0 OR list_contains($statuses, status))
        ORDER BY CASE status WHEN 'failed' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END,
            created_at DESC, alert_key
        LIMIT $limit
        """,
        params,
    )
    total = int(rows["total"].iloc[0]) if len(rows) else 0
    return total, rows.drop(columns=["total"])


# --- pipeline health -------------------------------------------------------------------------


def ingest_ledger(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The committed offsets: the next offset the pipeline will read, per topic and partition."""
    return _df(
        conn,
        "SELECT topic, kafka_partition, max(next_offset) AS next_offset, "
        "max(updated_at) AS updated_at FROM ingest_offsets GROUP BY topic, kafka_partition "
        "ORDER BY topic, kafka_partition",
        {},
    )


def dead_letters_by_day(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> pd.DataFrame:
    """Dead letters per UTC day and reason in the range."""
    return _df(
        conn,
        "SELECT CAST(ingested_at AS DATE) AS day, reason, count(*) AS dead_letters "
        "FROM dead_letter_events WHERE ingested_at >= $start AND ingested_at < $end "
        "GROUP BY ALL ORDER BY day, reason",
        _instants(day_range),
    )


def dead_letter_sample(
    conn: duckdb.DuckDBPyConnection, day_range: DayRange, limit: int = 20
) -> pd.DataFrame:
    """The newest dead letters of the range, their raw value cut to SAMPLE_BYTES and shown as
    text (invalid UTF-8 as escapes), never interpreted."""
    rows = _df(
        conn,
        """
        SELECT ingested_at, topic, kafka_partition, kafka_offset, reason, detail, raw_size,
            raw_value[1:$bytes] AS raw_head
        FROM dead_letter_events WHERE ingested_at >= $start AND ingested_at < $end
        ORDER BY ingested_at DESC, topic, kafka_partition, kafka_offset DESC LIMIT $limit
        """,
        {**_instants(day_range), "bytes": SAMPLE_BYTES, "limit": limit},
    )
    rows["raw_value"] = [
        _raw_text(head, int(size))
        for head, size in zip(rows["raw_head"], rows["raw_size"], strict=True)
    ]
    return rows.drop(columns=["raw_head"])


def _raw_text(head: bytes | None, size: int) -> str:
    if head is None:
        return "(no value)"
    text = bytes(head).decode("utf-8", errors="backslashreplace")
    return text + (f" … ({size:,} bytes)" if size > len(head) else "")


def missing_funnel_days(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> pd.DataFrame:
    """Days from the first sign-up to the newest computed day with no funnel_daily row."""
    return _df(
        conn,
        """
        WITH bounds AS (
            SELECT greatest($first, (SELECT min(signup_day) FROM user_signups)) AS first,
                least($last, (SELECT max(day) FROM funnel_daily)) AS last
        ), days AS (
            SELECT CAST(d AS DATE) AS day
            FROM bounds, generate_series(bounds.first, bounds.last, INTERVAL 1 DAY) AS t(d)
            WHERE bounds.first IS NOT NULL AND bounds.last IS NOT NULL
        )
        SELECT day FROM days WHERE day NOT IN (SELECT day FROM funnel_daily) ORDER BY day
        LIMIT 1000
        """,
        _days(day_range),
        dates=("day",),
    )


def funnel_days_behind_signups(
    conn: duckdb.DuckDBPyConnection, day_range: DayRange
) -> pd.DataFrame:
    """Computed days whose users (all four stages) differ from the sign-ups known now: late
    sign-ups arrived after the day was computed."""
    return _df(
        conn,
        """
        WITH per_day AS (
            SELECT signup_day AS day, count(*) AS n FROM user_signups GROUP BY signup_day
        ), known AS (
            SELECT f.day, f.signed_up + f.activated + f.active + f.inactive AS counted,
                (SELECT coalesce(sum(n), 0) FROM per_day WHERE per_day.day <= f.day) AS known
            FROM funnel_daily AS f WHERE f.day BETWEEN $first AND $last
        )
        SELECT day, counted, CAST(known AS BIGINT) AS signed_up_now
        FROM known WHERE counted <> known ORDER BY day LIMIT 1000
        """,
        _days(day_range),
        dates=("day",),
    )
