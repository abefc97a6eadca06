"""The alerts outbox in the lake: reading journey events for the rules, and the `alerts` table.

Rules run incrementally: the watermark "alerts" in `pipeline_watermarks` is the last
DuckLake snapshot of journey events they have seen (journey_events.committed_snapshot: the
journeys step commits one at a time, so snapshots follow its commits whatever order the raw
batches behind them committed in). Only alerts whose `alert_key` is not stored yet
go in (the lake has no unique constraints: an anti-join on the key inside the same
transaction), so re-evaluating the same events never stores (or posts) an alert twice.
All SQL takes parameters; nothing user-supplied is formatted into it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from analytics_pipeline.alerts.model import ActionEvent, Alert, OutboxAlert
from analytics_pipeline.alerts.rule_record import ClockRule
from analytics_pipeline.alerts.rules import (
    EVENT_RULE_ACTIONS,
    LONGEST_WINDOW,
    WINDOW_ACTIONS,
    WINDOW_TRIGGER_ACTIONS,
)
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.warehouse.connection import retry_conflicts
from analytics_pipeline.warehouse.snapshots import inserted_since

WATERMARK = "alerts"
STATUSES: tuple[str, ...] = ("pending", "sent", "failed", "skipped")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_EVENT_COLUMNS = "j.event_id, j.user_id, epoch_us(j.ts), j.action, CAST(j.details AS VARCHAR)"

# New events (after the watermark) of every rule that fires on events.
NEW_EVENTS_SQL = f"""
SELECT {_EVENT_COLUMNS}
FROM journey_events AS j
WHERE j.committed_snapshot > $after AND j.committed_snapshot <= $upto
    AND j.ts >= $since AND list_contains($actions, j.action)
"""

# Earlier events of the users whose new events may complete a window (the windowed rules'
# triggers): the windows reach back before the new batch.
WINDOW_CONTEXT_SQL = f"""
SELECT {_EVENT_COLUMNS}
FROM journey_events AS j
WHERE j.committed_snapshot <= $upto AND j.ts >= $context_since
    AND list_contains($window_actions, j.action)
    AND j.user_id IN (
        SELECT DISTINCT user_id FROM journey_events
        WHERE committed_snapshot > $after AND committed_snapshot <= $upto AND ts >= $since
            AND user_id IS NOT NULL AND list_contains($trigger_actions, action)
    )
"""

NEW_KEYS_SQL = """
CREATE OR REPLACE TEMP TABLE _fresh_alerts AS
SELECT n.* FROM _new_alerts AS n
ANTI JOIN alerts AS a ON a.alert_key = n.alert_key
QUALIFY row_number() OVER (PARTITION BY n.alert_key ORDER BY n.event_ts) = 1
"""

INSERT_ALERTS_SQL = """
INSERT INTO alerts (
    alert_key, rule, user_id, event_ts, status, attempts, created_at, entity, period, details,
    updated_at
)
SELECT
    alert_key, rule, user_id, event_ts, $status, 0, $now, entity, period, CAST(details AS JSON),
    $now
FROM _fresh_alerts
"""

SET_WATERMARK_SQL = """
MERGE INTO pipeline_watermarks AS w
USING (SELECT $name AS name, $value::BIGINT AS value, $now::TIMESTAMPTZ AS updated_at) AS n
ON w.name = n.name
WHEN MATCHED THEN UPDATE SET value = n.value, updated_at = n.updated_at
WHEN NOT MATCHED THEN INSERT (name, value, updated_at) VALUES (n.name, n.value, n.updated_at)
"""

PENDING_SQL = """
SELECT
    alert_key, rule, user_id, epoch_us(event_ts), CAST(details AS VARCHAR), attempts,
    coalesce(epoch_us(updated_at), 0)
FROM alerts
WHERE status = 'pending' AND (NOT $fresh_only OR (attempts = 0 AND last_error IS NULL))
ORDER BY event_ts, alert_key
LIMIT $limit
"""

# A pending alert whose last attempt failed recently: Slack is known to be failing.
RECENTLY_FAILED_SQL = """
SELECT count(*) FROM alerts
WHERE status = 'pending' AND last_error IS NOT NULL AND updated_at >= $since
"""

# A poster takes an alert before posting it, so two posters never post the same one (the
# `ingest` pool keeps them apart too, but a run started by hand is outside it): the alert must
# be pending, unchanged since the poster read it, and not held by a poster mid-post.
CLAIM_SQL = """
UPDATE alerts SET last_error = $posting, updated_at = $now
WHERE alert_key = $key AND status = 'pending'
    AND coalesce(epoch_us(updated_at), 0) = $version
    AND (last_error IS DISTINCT FROM $posting OR updated_at < $held_since)
"""
RECORD_SENT_SQL = """
UPDATE alerts SET status = 'sent', slack_ts = $slack_ts, slack_channel = $channel,
    sent_at = $now, updated_at = $now, last_error = NULL
WHERE alert_key = $key
"""

# A failed attempt; after max_attempts the alert is `failed` and stays visible.
RECORD_ATTEMPT_FAILED_SQL = """
UPDATE alerts SET attempts = attempts + 1, last_error = $error, updated_at = $now,
    status = CASE WHEN attempts + 1 >= $max_attempts THEN 'failed' ELSE 'pending' END
WHERE alert_key = $key
"""

# Slack's configuration is wrong (token, channel): not the alert's fault, attempts unchanged.
RECORD_BLOCKED_SQL = """
UPDATE alerts SET last_error = $error, updated_at = $now WHERE alert_key = $key
"""

SKIP_PENDING_SQL = """
UPDATE alerts SET status = 'skipped', last_error = $reason, updated_at = $now
WHERE status = 'pending'
"""


def _micros_to_datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _events(rows: Iterable[Sequence[Any]]) -> list[ActionEvent]:
    events = []
    for event_id, user_id, micros, action, details in rows:
        try:
            parsed = json.loads(details) if details else {}
        except json.JSONDecodeError:
            parsed = {}
        events.append(
            ActionEvent(
                event_id=event_id,
                user_id=user_id,
                ts=_micros_to_datetime(micros),
                action=action,
                details=parsed if isinstance(parsed, dict) else {},
            )
        )
    return events


def read_watermark(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute(
        "SELECT value FROM pipeline_watermarks WHERE name = $name", {"name": WATERMARK}
    ).fetchone()
    return int(row[0]) if row else 0


# The tables behind the journey_events view: a snapshot that added journey events inserted
# into one of them (a re-attributed event is deleted from one and inserted again).
JOURNEY_EVENT_TABLES = ("journey_events_by_user", "journey_events_anonymous")


def newest_batch(conn: duckdb.DuckDBPyConnection, after: int) -> int:
    """The newest snapshot that committed journey events, or `after` when nothing is new: from
    the catalog's change log in the open transaction (3 catalog queries, where a scan of the
    journey tables costs ~16), or from the tables when the log cannot answer."""
    inserted = inserted_since(conn, after, JOURNEY_EVENT_TABLES)
    if inserted is not None:
        return max(inserted.values(), default=after)
    row = conn.execute(
        "SELECT max(committed_snapshot) FROM journey_events WHERE committed_snapshot > $after",
        {"after": after},
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else after


def set_watermark(conn: duckdb.DuckDBPyConnection, value: int, now: datetime) -> None:
    conn.execute(SET_WATERMARK_SQL, {"name": WATERMARK, "value": value, "now": now})


def new_rule_events(
    conn: duckdb.DuckDBPyConnection,
    *,
    after: int,
    upto: int,
    now: datetime,
    thresholds: Thresholds,
) -> list[ActionEvent]:
    """Events of batches (after, upto] the event rules need, with the context of windows."""
    since = now - thresholds.lookback
    new = conn.execute(
        NEW_EVENTS_SQL,
        {"after": after, "upto": upto, "since": since, "actions": sorted(EVENT_RULE_ACTIONS)},
    ).fetchall()
    context = conn.execute(
        WINDOW_CONTEXT_SQL,
        {
            "after": after,
            "upto": upto,
            "since": since,
            "context_since": since - LONGEST_WINDOW,
            "window_actions": sorted(WINDOW_ACTIONS),
            "trigger_actions": sorted(WINDOW_TRIGGER_ACTIONS),
        },
    ).fetchall()
    unique = {(row[0], row[3]): row for row in [*new, *context]}
    return _events(unique.values())


def clock_rule_events(
    conn: duckdb.DuckDBPyConnection, rule: ClockRule, *, now: datetime, thresholds: Thresholds
) -> list[ActionEvent]:
    """A clock rule's whole input at `now`, read by its own `input_sql`."""
    rows = conn.execute(
        rule.input_sql,
        {"since": now - thresholds.lookback, "rule": rule.name, "actions": sorted(rule.actions)},
    ).fetchall()
    return _events(rows)


def insert_alerts(
    conn: duckdb.DuckDBPyConnection, alerts: Sequence[Alert], *, status: str, now: datetime
) -> dict[str, int]:
    """Store alerts whose key is new; returns how many were new, by rule."""
    if status not in ("pending", "skipped"):
        raise ValueError(f"new alerts are pending or skipped, not {status!r}")
    if not alerts:
        return {}
    table = pa.table(
        {
            "alert_key": [a.key for a in alerts],
            "rule": [a.rule for a in alerts],
            "user_id": pa.array([a.user_id for a in alerts], pa.string()),
            "event_ts": pa.array([a.event_ts for a in alerts], pa.timestamp("us", tz="UTC")),
            "entity": [a.entity for a in alerts],
            "period": pa.array([a.period for a in alerts], pa.string()),
            "details": [json.dumps(a.details, sort_keys=True) for a in alerts],
        }
    )
    conn.register("_new_alerts", table)
    try:
        conn.execute(NEW_KEYS_SQL)
        rows = conn.execute("SELECT rule FROM _fresh_alerts").fetchall()
        conn.execute(INSERT_ALERTS_SQL, {"status": status, "now": now})
        conn.execute("DROP TABLE _fresh_alerts")
    finally:
        conn.unregister("_new_alerts")
    counts: dict[str, int] = {}
    for (rule,) in rows:
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def status_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = conn.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def pending_alerts(
    conn: duckdb.DuckDBPyConnection, limit: int, *, fresh_only: bool = False
) -> list[OutboxAlert]:
    """Pending alerts, oldest first; `fresh_only`: only those never attempted."""
    rows = conn.execute(PENDING_SQL, {"limit": limit, "fresh_only": fresh_only}).fetchall()
    return [
        OutboxAlert(
            alert_key=key,
            rule=rule,
            user_id=user_id,
            event_ts=_micros_to_datetime(micros),
            details=json.loads(details) if details else {},
            attempts=int(attempts),
            version=int(version),
        )
        for key, rule, user_id, micros, details, attempts, version in rows
    ]


def claim(
    conn: duckdb.DuckDBPyConnection,
    alert: OutboxAlert,
    *,
    posting: str,
    now: datetime,
    lease: timedelta,
) -> bool:
    """Mark `alert` as being posted by this poster; False when another poster has it or it
    changed since it was read. Two claims at once conflict in DuckLake: the loser claims
    again on what the winner committed."""
    params = {
        "key": alert.alert_key,
        "version": alert.version,
        "posting": posting,
        "now": now,
        "held_since": now - lease,
    }
    row = retry_conflicts(
        lambda: conn.execute(CLAIM_SQL, params).fetchone(),
        what=f"claiming alert {alert.alert_key}",
        conn=conn,
    )
    return bool(row and row[0])


def failed_recently(conn: duckdb.DuckDBPyConnection, *, since: datetime) -> bool:
    row = conn.execute(RECENTLY_FAILED_SQL, {"since": since}).fetchone()
    return bool(row and row[0])


def record_sent(
    conn: duckdb.DuckDBPyConnection, key: str, *, slack_ts: str, channel: str, now: datetime
) -> None:
    conn.execute(
        RECORD_SENT_SQL, {"key": key, "slack_ts": slack_ts, "channel": channel, "now": now}
    )


def record_attempt_failed(
    conn: duckdb.DuckDBPyConnection, key: str, *, error: str, max_attempts: int, now: datetime
) -> str:
    """Count one failed attempt; returns the alert's new status (pending or failed)."""
    conn.execute(
        RECORD_ATTEMPT_FAILED_SQL,
        {"key": key, "error": error, "max_attempts": max_attempts, "now": now},
    )
    row = conn.execute("SELECT status FROM alerts WHERE alert_key = $key", {"key": key}).fetchone()
    return str(row[0]) if row else "pending"


def record_blocked(conn: duckdb.DuckDBPyConnection, key: str, *, error: str, now: datetime) -> None:
    conn.execute(RECORD_BLOCKED_SQL, {"key": key, "error": error, "now": now})


def skip_pending(conn: duckdb.DuckDBPyConnection, *, reason: str, now: datetime) -> int:
    """Slack is not configured: pending alerts become `skipped` (SPEC §2)."""
    row = conn.execute(SKIP_PENDING_SQL, {"reason": reason, "now": now}).fetchone()
    return int(row[0]) if row else 0


def failed_alerts(conn: duckdb.DuckDBPyConnection, limit: int = 10) -> list[dict[str, Any]]:
    """The most recent `failed` alerts, for the asset check's metadata."""
    rows = conn.execute(
        "SELECT alert_key, attempts, last_error FROM alerts WHERE status = 'failed' "
        "ORDER BY updated_at DESC, alert_key LIMIT $limit",
        {"limit": limit},
    ).fetchall()
    return [{"alert_key": k, "attempts": int(a), "last_error": e} for k, a, e in rows]
