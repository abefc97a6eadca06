"""A small seeded lake for the dashboard tests, written by the pipeline's own code.

Raw events go in as ingest batches (RawBatches), then `update_journeys` and `compute_funnel`
derive journeys and the funnel exactly as the assets do. Alerts, dead letters and the offset
ledger are rows as their writers store them. Days are relative to `today` (UTC), so the
dashboard's presets (yesterday, 7 / 30 days, all time) select known sets of days.

The population (W = 15), with T = today:

| user | sign-up | meaningful days | stage on T |
|---|---|---|---|
| ada | T-10 (browser visit before, linked by identify) | T-9, T-2 | active |
| bob | T-5 | T-5 | activated |
| carol | T-1 | – | signed_up |
| dave | T-40 | T-39, T-38 | inactive since T-23 |
| `<script>…` | T-3 | – | signed_up |
| erin | T-20, inferred (a login first) | T-20 | inactive since T-5 |
| frank | T | – | signed_up |

plus an anonymous visitor `anon-zz` whose page views are never linked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import duckdb

from analytics_pipeline.funnel.stages import compute_funnel
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline_tests.journeys.raw_events import (
    RawBatches,
    api,
    at,
    code_run,
    deployment,
    identify,
    page_view,
    signup,
    topic_created,
)

SCRIPT_USER = "<script>alert(1)</script>"
W = 15
FIRST_DAY_BACK = 40  # the funnel is computed from T-40 to T


@dataclass(frozen=True)
class Expected:
    """What the pages must show for a preset, derived by hand from the table above."""

    last_day_stages: dict[str, int]  # signed_up, activated, active, inactive on the last day
    new_signups: int
    newly_activated: int
    newly_inactive: int
    signup_conversion: str  # "Sign-up → activated"
    activation_conversion: str  # "Activated → active"


EXPECTED = {
    "yesterday": Expected(
        {"signed_up": 2, "activated": 1, "active": 1, "inactive": 2}, 1, 0, 0, "0.0%", "–"
    ),
    "7d": Expected(
        {"signed_up": 3, "activated": 1, "active": 1, "inactive": 2}, 4, 1, 1, "25.0%", "0.0%"
    ),
    "30d": Expected(
        {"signed_up": 3, "activated": 1, "active": 1, "inactive": 2}, 6, 3, 2, "50.0%", "33.3%"
    ),
    "all": Expected(
        {"signed_up": 3, "activated": 1, "active": 1, "inactive": 2}, 7, 4, 2, "57.1%", "50.0%"
    ),
}

# ada's journey, oldest first: (days before T, hour, minute, action, attributed via)
ADA_ACTIONS = [
    (10, 8, 50, "page_viewed", "anon-ada"),
    (10, 9, 0, "signed_up", None),
    (9, 12, 0, "topic_created", None),
    (2, 12, 0, "code_run", None),
    (2, 13, 0, "deployment_failed", None),
]


def _ts(today: date, days_back: int, hour: int = 12, minute: int = 0) -> str:
    return at(today - timedelta(days=days_back), hour, minute)


def _instant(today: date, days_back: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(today - timedelta(days=days_back), time(hour, minute), UTC)


def raw_events(today: date) -> list[dict]:
    """The wire events of the population (see the module docstring)."""

    def ts(days_back: int, hour: int = 12, minute: int = 0) -> str:
        return _ts(today, days_back, hour, minute)

    failed = deployment("ada", "failed", ts(2, 13), deployment_id="dep-ada-1")
    failed["deployment"]["error_message"] = "image pull failed"
    return [
        page_view("anon-ada", ts(10, 8, 50)),
        signup("ada", ts(10, 9)),
        identify("anon-ada", "ada", ts(10, 9, 1)),
        topic_created("ada", ts(9)),
        code_run("ada", ts(2)),
        failed,
        signup("bob", ts(5, 10)),
        code_run("bob", ts(5, 11)),
        signup("carol", ts(1, 10)),
        signup("dave", ts(40, 10)),
        code_run("dave", ts(39)),
        code_run("dave", ts(38)),
        signup(SCRIPT_USER, ts(3, 10)),
        api("erin", "POST", "/auth/login", 200, ts(20, 9)),
        topic_created("erin", ts(20, 10)),
        signup("frank", ts(0, 0, 5)),
        page_view("anon-zz", ts(4, 15)),
        page_view("anon-zz", ts(4, 15, 2)),
    ]


# Alerts as the outbox stores them: (rule, user, status, attempts, last_error, days back).
ALERTS = [
    ("new_signup", "frank", "sent", 0, None, 0),
    ("new_signup", SCRIPT_USER, "skipped", 0, None, 3),
    ("deployment_failed", "ada", "failed", 3, "invalid_blocks", 2),
    ("api_errors", "bob", "pending", 2, "HTTP 503 from Slack", 1),
    ("login_trouble", "dave", "sent", 0, None, 20),
]

# Dead letters: (reason, raw value, days back).
DEAD_LETTERS = [
    ("invalid_json", b"{not json", 1),
    ("invalid_json", b"<script>alert(2)</script>", 1),
    ("missing_field", json.dumps({"type": "page_view"}).encode(), 8),
]


def seed_world(
    conn: duckdb.DuckDBPyConnection, today: date, *, clickstream_topic: str, backend_topic: str
) -> None:
    """Write the population, alerts, dead letters and an offset ledger into the lake."""
    raw = RawBatches(conn)
    raw.add(raw_events(today))
    update_journeys(conn, clickstream_topic=clickstream_topic, backend_topic=backend_topic)
    compute_funnel(conn, today - timedelta(days=FIRST_DAY_BACK), today, inactive_after_days=W)
    for number, (rule, user, status, attempts, error, back) in enumerate(ALERTS):
        created = _instant(today, back, 10, number)
        conn.execute(
            "INSERT INTO alerts (alert_key, rule, user_id, entity, event_ts, status, attempts, "
            "last_error, created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                f"{rule}:{user}:{number}",
                rule,
                user,
                user,
                created,
                status,
                attempts,
                error,
                created,
                created if status == "sent" else None,
            ],
        )
    for offset, (reason, value, back) in enumerate(DEAD_LETTERS):
        conn.execute(
            "INSERT INTO dead_letter_events (topic, kafka_partition, kafka_offset, reason, "
            "detail, raw_value, raw_size, ingested_at, ingest_batch_id) "
            "VALUES (?, 0, ?, ?, NULL, ?, ?, ?, 1)",
            [clickstream_topic, 100 + offset, reason, value, len(value), _instant(today, back)],
        )
    for topic, next_offset in ((clickstream_topic, 3), (backend_topic, 5)):
        conn.execute(
            "INSERT INTO ingest_offset_log (topic, kafka_partition, next_offset, updated_at, "
            "ingest_batch_id, seq) VALUES (?, 0, ?, ?, 1, 1)",
            [topic, next_offset, datetime.now(UTC)],
        )
