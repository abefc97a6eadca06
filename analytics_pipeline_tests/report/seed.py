"""Writing a report day straight into the warehouse: journeys, stage rows and funnel counts.

The report reads only `journey_events`, `user_journeys`, `users_by_activation_stage` and
`funnel_daily`; tests and the benchmark describe users (their stage on the day, the day
before, and their actions) and this module writes consistent rows for them, in bulk (Arrow).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pyarrow as pa

from analytics_pipeline.events.actions import MEANINGFUL_ACTIONS

STAGES = ("signed_up", "activated", "active", "inactive")


@dataclass
class SeedUser:
    user_id: str
    stage: str  # on the report day
    signed_up_at: datetime
    previous_stage: str | None = None  # on the day before; None: not in the funnel yet
    actions: list[tuple[datetime, str]] = field(default_factory=list)  # (ts, action)
    signup_inferred: bool = False


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def events_table(conn: duckdb.DuckDBPyConnection) -> str:
    """Where attributed actions are stored: `journey_events` itself, or, where the journeys
    schema makes `journey_events` a view, its table of events that carry their user."""
    kind = conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'journey_events'"
    ).fetchone()
    return "journey_events_by_user" if kind and kind[0] == "VIEW" else "journey_events"


def _funnel_row(day: date, users: Sequence[SeedUser], stage_of) -> dict:
    counts = Counter(stage_of(user) for user in users)
    counts.pop(None, None)
    meaningful_first = {}
    for user in users:
        days = sorted(ts.date() for ts, action in user.actions if action in MEANINGFUL_ACTIONS)
        meaningful_first[user.user_id] = days[0] if days else None
    return {
        "day": day,
        "new_signups": sum(1 for u in users if u.signed_up_at.date() == day),
        "signed_up": counts["signed_up"],
        "activated": counts["activated"],
        "active": counts["active"],
        "inactive": counts["inactive"],
        "newly_activated": sum(1 for first in meaningful_first.values() if first == day),
        "newly_inactive": sum(
            1 for u in users if u.stage == "inactive" and u.previous_stage != "inactive"
        ),
    }


def seed_report_day(
    conn: duckdb.DuckDBPyConnection,
    day: date,
    users: Sequence[SeedUser],
    *,
    previous_day: bool = True,
    extra_trend: Sequence[dict] = (),
) -> dict:
    """Write `users` as they stand on `day` (and the day before); returns day's funnel row.

    `previous_day=False` leaves the day before without any funnel rows. `extra_trend` adds
    funnel_daily rows for earlier days (dicts with funnel_daily's columns).
    """
    events = {"source_topic": [], "event_id": [], "user_id": [], "ts": [], "action": []}
    journeys = {
        name: []
        for name in (
            "user_id",
            "signed_up_at",
            "signup_inferred",
            "first_meaningful_at",
            "last_meaningful_at",
            "meaningful_days",
            "last_seen_at",
            "first_seen_at",
            "actions",
        )
    }
    for user in users:
        actions = sorted(user.actions)
        if not user.signup_inferred:
            actions = [(user.signed_up_at, "signed_up"), *actions]
        for index, (ts, action) in enumerate(actions):
            events["source_topic"].append("portal-backend")
            events["event_id"].append(f"{user.user_id}#{index}")
            events["user_id"].append(user.user_id)
            events["ts"].append(ts)
            events["action"].append(action)
        meaningful = [ts for ts, action in actions if action in MEANINGFUL_ACTIONS]
        seen = [ts for ts, _ in actions] or [user.signed_up_at]
        journeys["user_id"].append(user.user_id)
        journeys["signed_up_at"].append(user.signed_up_at)
        journeys["signup_inferred"].append(user.signup_inferred)
        journeys["first_meaningful_at"].append(min(meaningful) if meaningful else None)
        journeys["last_meaningful_at"].append(max(meaningful) if meaningful else None)
        journeys["meaningful_days"].append(len({ts.date() for ts in meaningful}))
        journeys["last_seen_at"].append(max(seen))
        journeys["first_seen_at"].append(min(seen))
        journeys["actions"].append(len(actions))
    stage_rows = {"day": [], "user_id": [], "stage": []}
    for user in users:
        stage_rows["day"].append(day)
        stage_rows["user_id"].append(user.user_id)
        stage_rows["stage"].append(user.stage)
        if previous_day and user.previous_stage is not None:
            stage_rows["day"].append(day - timedelta(days=1))
            stage_rows["user_id"].append(user.user_id)
            stage_rows["stage"].append(user.previous_stage)
    ts_type = pa.timestamp("us", tz="UTC")
    event_table = pa.table({**events, "ts": pa.array(events["ts"], type=ts_type)})
    journey_table = pa.table(
        {
            **journeys,
            **{
                name: pa.array(journeys[name], type=ts_type)
                for name in (
                    "signed_up_at",
                    "first_meaningful_at",
                    "last_meaningful_at",
                    "last_seen_at",
                    "first_seen_at",
                )
            },
        }
    )
    stage_table = pa.table(stage_rows)
    funnel = [_funnel_row(day, users, lambda u: u.stage)]
    if previous_day:
        funnel.append(_funnel_row(day - timedelta(days=1), users, lambda u: u.previous_stage))
    funnel.extend(extra_trend)
    funnel_table = pa.Table.from_pylist(funnel)
    conn.register("seed_events", event_table)
    conn.register("seed_journeys", journey_table)
    conn.register("seed_stages", stage_table)
    conn.register("seed_funnel", funnel_table)
    try:
        conn.execute(
            f"INSERT INTO {events_table(conn)} (source_topic, event_id, user_id, ts, action, "
            "ingest_batch_id) SELECT source_topic, event_id, user_id, ts, action, 1 "
            "FROM seed_events"
        )
        conn.execute(
            "INSERT INTO user_journeys (user_id, signed_up_at, signup_inferred, "
            "first_meaningful_at, last_meaningful_at, meaningful_days, last_seen_at, "
            "first_seen_at, actions) SELECT user_id, signed_up_at, signup_inferred, "
            "first_meaningful_at, last_meaningful_at, meaningful_days, last_seen_at, "
            "first_seen_at, actions FROM seed_journeys"
        )
        conn.execute(
            "INSERT INTO users_by_activation_stage (day, user_id, stage) "
            "SELECT day, user_id, stage FROM seed_stages"
        )
        conn.execute(
            "INSERT INTO funnel_daily (day, new_signups, signed_up, activated, active, inactive, "
            "newly_activated, newly_inactive) SELECT day, new_signups, signed_up, activated, "
            "active, inactive, newly_activated, newly_inactive FROM seed_funnel"
        )
    finally:
        for name in ("seed_events", "seed_journeys", "seed_stages", "seed_funnel"):
            conn.unregister(name)
    return funnel[0]
