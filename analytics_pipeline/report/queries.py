"""Reading one day's report out of the warehouse (funnel tables and journeys), as-of that day.

Everything a user row shows is computed from `journey_events` up to the end of the report
day, so a backfilled report shows the journey as it stood then, not as it stands today.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import duckdb

from analytics_pipeline.events.actions import MEANINGFUL_ACTIONS
from analytics_pipeline.report.model import STAGES, FunnelDay, ReportData, StageUser
from analytics_pipeline.report.timeline import ACTION_LABELS, BROWSER_ACTIONS

TREND_DAYS = 14


class FunnelNotMaterialised(LookupError):
    """funnel_daily has no row for the report day: materialise the funnel first."""


FUNNEL_SQL = """
SELECT day, new_signups, signed_up, activated, active, inactive, newly_activated, newly_inactive
FROM funnel_daily
WHERE day BETWEEN $first AND $last
ORDER BY day
"""

# One row per user in the day's stages, in listing order: users who entered their stage on
# the day first, then the most recently active. "Entered" compares with the day before; when
# the day before has no stage rows at all, the users who signed up on the day entered.
STAGE_USERS_SQL = """
WITH stage_users AS (
    SELECT s.user_id, s.stage, p.stage AS previous_stage
    FROM users_by_activation_stage AS s
    LEFT JOIN users_by_activation_stage AS p ON p.day = $previous AND p.user_id = s.user_id
    WHERE s.day = $day
),
activity AS (
    SELECT
        e.user_id,
        max(e.ts) AS last_seen_at,
        max(e.ts) FILTER (WHERE list_contains($meaningful, e.action)) AS last_meaningful_at,
        count(DISTINCT CAST(e.ts AS DATE)) FILTER (WHERE list_contains($meaningful, e.action))
            AS meaningful_days
    FROM journey_events AS e
    SEMI JOIN stage_users AS u ON u.user_id = e.user_id
    WHERE e.ts < $day_end
    GROUP BY e.user_id
)
SELECT
    u.user_id,
    u.stage,
    CASE
        WHEN $has_previous THEN u.previous_stage IS DISTINCT FROM u.stage
        ELSE coalesce(j.signed_up_at >= $day_start AND j.signed_up_at < $day_end, false)
    END AS entered_today,
    j.signed_up_at,
    coalesce(j.signup_inferred, false) AS signup_inferred,
    a.last_meaningful_at,
    a.last_seen_at,
    coalesce(a.meaningful_days, 0) AS meaningful_days
FROM stage_users AS u
LEFT JOIN user_journeys AS j ON j.user_id = u.user_id
LEFT JOIN activity AS a ON a.user_id = u.user_id
ORDER BY u.stage, entered_today DESC, a.last_seen_at DESC NULLS LAST, u.user_id
"""

# Per user, one entry per UTC day with product actions: "MM-DD login run×5 deploy✓",
# actions in the order they first happened that day.
TIMELINES_SQL = """
WITH labels AS (
    SELECT unnest($actions) AS action, unnest($labels) AS label
),
per_action AS (
    SELECT e.user_id, CAST(e.ts AS DATE) AS d, e.action, count(*) AS n, min(e.ts) AS first_ts
    FROM journey_events AS e
    SEMI JOIN (
        SELECT user_id FROM users_by_activation_stage WHERE day = $day
    ) AS u ON u.user_id = e.user_id
    WHERE e.ts < $day_end AND NOT list_contains($browser, e.action)
    GROUP BY ALL
),
per_day AS (
    SELECT
        p.user_id,
        p.d,
        strftime(p.d, '%m-%d') || ' ' || string_agg(
            coalesce(l.label, p.action) || CASE WHEN p.n > 1 THEN '×' || p.n ELSE '' END,
            ' ' ORDER BY p.first_ts, p.action
        ) AS entry
    FROM per_action AS p
    LEFT JOIN labels AS l ON l.action = p.action
    GROUP BY p.user_id, p.d
)
SELECT user_id, list(entry ORDER BY d) AS entries
FROM per_day
GROUP BY user_id
"""


def _funnel_day(row: tuple) -> FunnelDay:
    return FunnelDay(*row[:1], *(int(value) for value in row[1:8]))


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day as aware datetimes."""
    from datetime import UTC

    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def load_report_data(
    conn: duckdb.DuckDBPyConnection, day: date, *, inactive_after_days: int
) -> ReportData:
    """Everything the report for `day` shows; raises FunnelNotMaterialised without funnel."""
    first = day - timedelta(days=TREND_DAYS - 1)
    trend = tuple(
        _funnel_day(row)
        for row in conn.execute(FUNNEL_SQL, {"first": first, "last": day}).fetchall()
    )
    if not trend or trend[-1].day != day:
        raise FunnelNotMaterialised(
            f"funnel_daily has no row for {day.isoformat()}: materialise funnel_daily and "
            f"users_by_activation_stage for partition {day.isoformat()} first."
        )
    previous_day = day - timedelta(days=1)
    previous = trend[-2] if len(trend) > 1 and trend[-2].day == previous_day else None
    start, end = day_bounds(day)
    has_previous = bool(
        conn.execute(
            "SELECT EXISTS (SELECT 1 FROM users_by_activation_stage WHERE day = ?)",
            [previous_day],
        ).fetchone()[0]
    )
    timelines = dict(
        conn.execute(
            TIMELINES_SQL,
            {
                "day": day,
                "day_end": end,
                "actions": list(ACTION_LABELS),
                "labels": list(ACTION_LABELS.values()),
                "browser": list(BROWSER_ACTIONS),
            },
        ).fetchall()
    )
    rows = conn.execute(
        STAGE_USERS_SQL,
        {
            "day": day,
            "previous": previous_day,
            "has_previous": has_previous,
            "day_start": start,
            "day_end": end,
            "meaningful": sorted(MEANINGFUL_ACTIONS),
        },
    ).fetchall()
    users: dict[str, list[StageUser]] = {stage: [] for stage in STAGES}
    for user_id, stage, entered, signed_up_at, inferred, last_m, last_seen, m_days in rows:
        users.setdefault(stage, []).append(
            StageUser(
                user_id=user_id,
                stage=stage,
                entered_today=bool(entered),
                signed_up_at=signed_up_at,
                signup_inferred=bool(inferred),
                last_meaningful_at=last_m,
                last_seen_at=last_seen,
                meaningful_days=int(m_days),
                timeline=tuple(timelines.get(user_id) or ()),
            )
        )
    return ReportData(
        day=day,
        funnel=trend[-1],
        previous=previous,
        trend=trend,
        users={stage: tuple(members) for stage, members in users.items()},
        inactive_after_days=inactive_after_days,
    )
