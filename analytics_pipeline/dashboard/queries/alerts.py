"""The Alerts page's queries: counts per status and the alerts list."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from analytics_pipeline.alerts.rules import RULE_NAMES
from analytics_pipeline.dashboard.queries.shared import ROW_LIMIT, dataframe, instant_params
from analytics_pipeline.dashboard.ranges import DayRange

ALERT_RULES = RULE_NAMES  # the rules of alerts/rules/
ALERT_STATUSES = ("pending", "failed", "sent", "skipped")


def alert_rules(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The SPEC's rules and any other rule the table holds."""
    rows = conn.execute("SELECT DISTINCT rule FROM alerts").fetchall()
    return sorted(set(ALERT_RULES) | {row[0] for row in rows})


def alert_counts(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> dict[str, int]:
    """Alerts created in the range, per status (every status present, zeros included)."""
    rows = conn.execute(
        "SELECT status, count(*) FROM alerts WHERE created_at >= $start AND created_at < $end "
        "GROUP BY status",
        instant_params(day_range),
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
        **instant_params(day_range),
        "rules": list(rules),
        "statuses": list(statuses),
        "limit": limit,
    }
    rows = dataframe(
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
