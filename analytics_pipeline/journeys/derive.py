"""journey_events, user_identities and user_journeys, updated incrementally from the raw tables.

One call of `update_journeys` processes the raw rows committed after the "journeys_snapshot"
watermark, in ONE transaction together with the watermark update, so a crash leaves either
everything or nothing of the batch. The watermark is a DuckLake snapshot id (DuckLake numbers
commits in commit order, and each raw row carries its snapshot as `snapshot_id`): raw writers
commit side by side (ANALYTICS_INGEST_WRITERS) in any order, and each committed row is in
exactly one step's range. Within a step, a user's actions are applied by event time, as late
events always were, so the order the raw batches committed in does not matter.

Steps (SQL in journeys.sql):

1. classify the new raw rows with the action rules (events.actions.ACTION_RULES);
2. identity: each anonymous_id belongs to the user of its earliest linking event; new or
   earlier links are upserted;
3. insert the new actions: attributed ones (own user_id or a stored link) into
   journey_events_by_user, the others into journey_events_anonymous; a new link moves its
   browser's waiting rows to journey_events_by_user (a late, earlier link to another user
   moves them between users); the journey_events view is the union of both tables;
4. for the users touched (gained or lost actions) recompute user_journeys and the
   per-user meaningful days: merged incrementally, or rebuilt for users who lost actions.

The result says what changed, including the earliest day whose funnel changed: the signal
the funnel's staleness sensor uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from analytics_pipeline.events.actions import ACTION_RULES, MEANINGFUL_ACTIONS, ActionRule
from analytics_pipeline.warehouse.connection import transaction
from analytics_pipeline.warehouse.named_sql import execute, load_statements, run
from analytics_pipeline.warehouse.snapshots import inserted_since

SQL_FILE = "analytics_pipeline.journeys:journeys.sql"
WATERMARK_NAME = "journeys_snapshot"  # a snapshot id (migration 0003)
# How long a journeys transaction may take to commit, for the funnel marks (see below).
_COMMIT_MARGIN = timedelta(minutes=10)

# The raw tables by kind, each with the statement that reads its rows of the batch.
RAW_TABLES = {"clickstream": "raw_clickstream_events", "backend": "raw_backend_events"}
_RAW_ROWS = {"clickstream": "raw_clickstream_rows", "backend": "raw_backend_rows"}

# Batch statements in execution order (the classification runs between the first two groups).
# A statement that reads or writes a lake table costs catalog round trips even when it has
# nothing to do, so steps whose input is empty (counted in the batch's temp tables, which
# costs nothing) are left out, or replaced by an empty temp table of the same shape.
_STEPS_LINK = ("batch_ids", "batch_links")
# Only when the batch links some browser to a user.
_STEPS_IDENTITY = ("identity_changes", "upsert_identities")
_STEPS_EVENTS = ("batch_events", "insert_events_by_user", "insert_events_anonymous")
# Only when some identity changed: stored events of those browsers move.
_STEPS_REATTRIBUTE = ("reattributed",)
# Only when a late, earlier link moves a browser from one user to another.
_STEPS_RELINKED = ("reattributed_relinked", "unlink_relinked")
_STEPS_TAKE_LINKED = ("take_linked_from_anonymous",)
_STEPS_MOVE = ("insert_reattributed", "touched_users", "gained_actions")
# Only when a late link moved events away from some user ("lost" users are rebuilt).
_STEPS_LOST_USERS = (
    "gained_actions_of_lost_users",
    "old_lost_meaningful_days",
    "delete_lost_meaningful_days",
)


@dataclass(frozen=True)
class JourneysResult:
    """What one journeys update did."""

    watermark_before: int
    watermark: int
    raw_rows_read: int = 0
    rows_added: int = 0
    anonymous_rows_added: int = 0
    identities_linked: int = 0
    reattributed: int = 0
    users_touched: int = 0
    users_rebuilt: int = 0  # touched users who lost actions to a late, earlier link
    new_users: int = 0
    event_days: tuple[date, ...] = field(default_factory=tuple)
    earliest_funnel_day: date | None = None
    # The earliest funnel day changed by this or an earlier run and not reported to Dagster yet
    # (see funnel_stale_marks): what the run must report as stale.
    unreported_stale_from: date | None = None

    @property
    def processed_anything(self) -> bool:
        return self.watermark != self.watermark_before

    @property
    def earliest_event_day(self) -> date | None:
        """The earliest UTC day of an action added or re-attributed (the "late data" day)."""
        return self.event_days[0] if self.event_days else None


def update_journeys(
    conn: duckdb.DuckDBPyConnection,
    *,
    clickstream_topic: str,
    backend_topic: str,
    now: datetime | None = None,
    report_stale: bool = True,
) -> JourneysResult:
    """Process every raw row committed after the watermark, in one transaction with it.

    What is new comes from the catalog's change log (warehouse/snapshots.py): the newest
    snapshot that inserted into each raw table, so neither table is scanned for its newest
    snapshot and a table without new rows is not read at all (each costs tens of catalog
    round trips; the live tail's micro-batch often fills one topic only). Whoever committed
    them, one writer or several side by side, it is all there; when the log cannot answer
    (its oldest snapshots expired) both tables are scanned instead.
    `report_stale=False` skips the look-up of unreported funnel marks (None in the result):
    a caller that reports them once at its end (the live tail) need not pay it per update.
    """
    now = now or datetime.now(UTC)
    with transaction(conn):
        after = _fetch_one(conn, "watermark", {"name": WATERMARK_NAME})
        inserted = inserted_since(conn, after, list(RAW_TABLES.values()))
        if inserted is not None:
            kinds = tuple(kind for kind, table in RAW_TABLES.items() if table in inserted)
            upto = max(inserted.values(), default=None)
        else:
            kinds = tuple(RAW_TABLES)
            upto = _fetch_one(conn, "newest_batch", {"after": after})
        if upto is None:
            return JourneysResult(
                watermark_before=after,
                watermark=after,
                unreported_stale_from=unreported_stale_from(conn, after) if report_stale else None,
            )
        params: dict[str, Any] = {
            "name": WATERMARK_NAME,
            "after": after,
            "upto": upto,
            "now": now,
            "clickstream_topic": clickstream_topic,
            "backend_topic": backend_topic,
            "meaningful": sorted(MEANINGFUL_ACTIONS),
        }
        statements = load_statements(SQL_FILE)
        execute(
            conn,
            "CREATE OR REPLACE TEMP TABLE _jb_raw AS\n"
            + "\nUNION ALL\n".join(statements[_RAW_ROWS[kind]] for kind in kinds),
            params,
            label=f"{SQL_FILE}:batch_raw({','.join(kinds)})",
        )
        sql, values = classify_statement(ACTION_RULES)
        conn.execute(sql, values)
        _run_all(conn, _STEPS_LINK, params)
        linked = _count(conn, "_jb_links") > 0
        _run_all(conn, _STEPS_IDENTITY if linked else ("no_identity_changes",), params)
        _run_all(conn, _STEPS_EVENTS, params)
        changed = linked and _count(conn, "_jb_identity_changes") > 0
        _run_all(conn, _STEPS_REATTRIBUTE if changed else ("no_reattributed",), params)
        if changed and _fetch_one(conn, "relinked", params) > 0:
            _run_all(conn, _STEPS_RELINKED, params)
        if changed:
            _run_all(conn, _STEPS_TAKE_LINKED, params)
        _run_all(conn, _STEPS_MOVE, params)
        lost_path = _fetch_one(conn, "lost_users", params) > 0
        _run_all(conn, _STEPS_LOST_USERS if lost_path else ("no_lost_meaningful_days",), params)
        run(conn, SQL_FILE, "old_journeys", params)
        # The lost users' days were deleted above, so their gained actions rebuild them.
        new_days = lost_path or _fetch_one(conn, "candidate_days", params) > 0
        if new_days:
            _run_all(conn, ("new_meaningful_days", "insert_meaningful_days"), params)
        else:
            run(conn, SQL_FILE, "no_new_meaningful_days", params)
        _run_all(conn, ("lost_day_counts",) if lost_path else ("no_lost_day_counts",), params)
        run(conn, SQL_FILE, "new_journeys", params)
        if lost_path:  # only lost users can lose every action
            run(conn, SQL_FILE, "delete_emptied_journeys", params)
        if _fetch_one(conn, "old_journeys_count", params) > 0:
            run(conn, SQL_FILE, "update_changed_journeys", params)
        run(conn, SQL_FILE, "insert_journeys", params)
        cursor = run(conn, SQL_FILE, "summary", params)
        row = cursor.fetchone()
        assert row is not None
        summary = dict(zip([column[0] for column in cursor.description], row, strict=True))
        if _may_be_materialised(summary["earliest_funnel_day"]):
            conn.execute(
                "INSERT INTO funnel_stale_marks VALUES ($day, $upto, $now, NULL)",
                {"day": summary["earliest_funnel_day"], "upto": upto, "now": now},
            )
        run(conn, SQL_FILE, "set_watermark", params)
        conn.execute(load_statements(SQL_FILE)["drop_batch"])
        unreported = unreported_stale_from(conn, upto) if report_stale else None
    return JourneysResult(
        watermark_before=after,
        watermark=upto,
        raw_rows_read=summary["raw_rows_read"],
        rows_added=summary["rows_added"],
        anonymous_rows_added=summary["anonymous_rows_added"],
        identities_linked=summary["identities_linked"],
        reattributed=summary["reattributed"],
        users_touched=summary["users_touched"],
        users_rebuilt=summary["users_rebuilt"],
        new_users=summary["new_users"],
        event_days=tuple(summary["event_days"] or ()),
        earliest_funnel_day=summary["earliest_funnel_day"],
        unreported_stale_from=unreported,
    )


def _may_be_materialised(day: date | None) -> bool:
    """Whether the funnel partition of `day` (or a later one) may already be materialised, so
    a change from `day` on must be marked stale. A daily partition exists only once its UTC
    day has ended, so a change of today's (or a later) funnel needs no mark: live traffic
    changes today in every micro-batch. The real clock, not the caller's (tests freeze that
    one), with a margin: the mark must not be left out by a transaction that commits after
    midnight."""
    if day is None:
        return False
    return day < (datetime.now(UTC) + _COMMIT_MARGIN).date()


def unreported_stale_from(conn: duckdb.DuckDBPyConnection, upto: int) -> date | None:
    """The earliest funnel day that journeys transactions up to `upto` changed and no run has
    reported yet (a run that crashed after its commit leaves its mark unreported)."""
    row = conn.execute(
        "SELECT min(earliest_day) FROM funnel_stale_marks "
        "WHERE reported_at IS NULL AND ingest_batch_id <= $upto",
        {"upto": upto},
    ).fetchone()
    return row[0] if row else None


def mark_stale_reported(conn: duckdb.DuckDBPyConnection, upto: int, now: datetime) -> None:
    """The run has logged `funnel_stale_from` for every mark up to `upto`."""
    conn.execute(
        "UPDATE funnel_stale_marks SET reported_at = $now "
        "WHERE reported_at IS NULL AND ingest_batch_id <= $upto",
        {"upto": upto, "now": now},
    )


def rebuild_journeys(
    conn: duckdb.DuckDBPyConnection,
    *,
    clickstream_topic: str,
    backend_topic: str,
    now: datetime | None = None,
) -> JourneysResult:
    """Forget every journey table and rebuild them from all raw rows (after a rule change)."""
    with transaction(conn):
        for name in ("clear_all", "clear_watermark"):
            run(conn, SQL_FILE, name, {"name": WATERMARK_NAME})
    return update_journeys(
        conn, clickstream_topic=clickstream_topic, backend_topic=backend_topic, now=now
    )


@dataclass(frozen=True)
class DanglingEvents:
    """Outcome of "every journey event points at a stored raw event" over some batches."""

    checked: int
    dangling: int
    examples: tuple[str, ...]
    duplicated: int = 0

    @property
    def passed(self) -> bool:
        return self.dangling == 0 and self.duplicated == 0


def events_without_raw_event(
    conn: duckdb.DuckDBPyConnection,
    *,
    clickstream_topic: str,
    backend_topic: str,
    after_batch: int = 0,
) -> DanglingEvents:
    """Check the journey events committed after raw snapshot `after_batch` (the watermark
    before a step; 0: all) against the raw tables."""
    params = {
        "after": after_batch,
        "clickstream_topic": clickstream_topic,
        "backend_topic": backend_topic,
    }
    row = run(conn, SQL_FILE, "events_without_raw_event", params).fetchone()
    assert row is not None
    checked, dangling, examples, duplicated = row
    return DanglingEvents(
        checked=checked,
        dangling=dangling,
        examples=tuple(examples),
        duplicated=duplicated,
    )


def classify_statement(rules: Sequence[ActionRule]) -> tuple[str, list[Any]]:
    """SQL giving each `_jb_raw` row the action of its first matching rule, plus its values.

    The CASE has one branch per rule; its shape comes from the rules, every value (type,
    method, path pattern, status bounds, action) is a bound parameter. Constant patterns
    let DuckDB compile each regular expression once.
    """
    branches: list[str] = []
    values: list[Any] = []
    for rule in rules:
        conditions = ["source = ?", "type = ?"]
        values.extend([rule.source, rule.type])
        if rule.method is not None:
            conditions.append("method = ?")
            values.append(rule.method.upper())
        if rule.path is not None:
            conditions.append("regexp_full_match(path, ?)")
            values.append(rule.path)
        if rule.status is not None:
            conditions.append("status BETWEEN ? AND ?")
            values.extend(rule.status)
        if rule.deployment_status is not None:
            conditions.append("deployment_status = ?")
            values.append(rule.deployment_status)
        branches.append(f"WHEN {' AND '.join(conditions)} THEN ?")
        values.append(rule.action)
    case = f"CASE {' '.join(branches)} END" if branches else "NULL"
    sql = f"CREATE OR REPLACE TEMP TABLE _jb_classified AS SELECT *, {case} AS action FROM _jb_raw"
    return sql, values


def _run_all(conn: duckdb.DuckDBPyConnection, steps: Sequence[str], params: dict[str, Any]) -> None:
    for step in steps:
        run(conn, SQL_FILE, step, params)


def _count(conn: duckdb.DuckDBPyConnection, temp_table: str) -> int:
    """Rows of one of the batch's temp tables (local: no catalog round trip)."""
    row = conn.execute(f"SELECT count(*) FROM {temp_table}").fetchone()  # a constant name
    return int(row[0]) if row else 0


def _fetch_one(conn: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> Any:
    row = run(conn, SQL_FILE, name, params).fetchone()
    return row[0] if row else None
