"""`report_deliveries`: what was rendered and delivered, per day and stage.

Every step of a delivery is written as soon as Slack confirmed it (header ts, file id, number
of replies), each in its own statement, so a run that dies half-way leaves a row the next run
resumes from; a crash between a Slack call and its record can repeat that one call, no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Delivery:
    day: date
    stage: str
    status: str
    pdf_path: str | None
    slack_ts: str | None
    delivered_at: datetime | None
    channel_id: str | None
    file_id: str | None
    replies_posted: int
    attempts: int
    detail: str | None


_COLUMNS = (
    "day, stage, status, pdf_path, slack_ts, delivered_at, channel_id, file_id, "
    "replies_posted, attempts, detail"
)


def deliveries(conn: duckdb.DuckDBPyConnection, day: date) -> dict[str, Delivery]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM report_deliveries WHERE day = ? ORDER BY stage", [day]
    ).fetchall()
    return {row[1]: Delivery(*row) for row in rows}


def record_rendered(
    conn: duckdb.DuckDBPyConnection,
    day: date,
    stage: str,
    *,
    pdf_path: str,
    user_count: int,
    page_count: int,
) -> None:
    """Note the fresh PDF; a new row starts `pending`, an existing one keeps its status."""
    conn.execute(
        """
        MERGE INTO report_deliveries AS d
        USING (SELECT $day::DATE AS day, $stage AS stage) AS n
        ON d.day = n.day AND d.stage = n.stage
        WHEN MATCHED THEN UPDATE SET
            pdf_path = $pdf_path, user_count = $users, page_count = $pages,
            rendered_at = now(), updated_at = now()
        WHEN NOT MATCHED THEN INSERT
            (day, stage, status, pdf_path, user_count, page_count, rendered_at, updated_at)
            VALUES (n.day, n.stage, 'pending', $pdf_path, $users, $pages, now(), now())
        """,
        {
            "day": day,
            "stage": stage,
            "pdf_path": pdf_path,
            "users": user_count,
            "pages": page_count,
        },
    )


def _update(conn: duckdb.DuckDBPyConnection, day: date, stage: str, assignments: str, **values):
    conn.execute(
        f"UPDATE report_deliveries SET {assignments}, updated_at = now() "
        "WHERE day = $day AND stage = $stage",
        {"day": day, "stage": stage, **values},
    )


def mark_skipped(conn: duckdb.DuckDBPyConnection, day: date, stage: str, reason: str) -> None:
    _update(conn, day, stage, "status = 'skipped', detail = $reason", reason=reason)


def start_attempt(
    conn: duckdb.DuckDBPyConnection, day: date, stage: str, *, fresh: bool, replies: int
) -> None:
    """Count an attempt; `fresh` forgets an earlier delivery so the stage is posted anew."""
    forget = (
        ", slack_ts = NULL, channel_id = NULL, file_id = NULL, replies_posted = 0, "
        "delivered_at = NULL"
        if fresh
        else ""
    )
    _update(
        conn,
        day,
        stage,
        "status = 'pending', attempts = attempts + 1, detail = NULL, replies_planned = $replies"
        + forget,
        replies=replies,
    )


def record_header(
    conn: duckdb.DuckDBPyConnection, day: date, stage: str, *, channel_id: str, slack_ts: str
) -> None:
    _update(
        conn, day, stage, "channel_id = $channel, slack_ts = $ts", channel=channel_id, ts=slack_ts
    )


def record_file(conn: duckdb.DuckDBPyConnection, day: date, stage: str, file_id: str) -> None:
    _update(conn, day, stage, "file_id = $file_id", file_id=file_id)


def record_replies(conn: duckdb.DuckDBPyConnection, day: date, stage: str, posted: int) -> None:
    _update(conn, day, stage, "replies_posted = $posted", posted=posted)


def mark_sent(conn: duckdb.DuckDBPyConnection, day: date, stage: str) -> None:
    _update(conn, day, stage, "status = 'sent', delivered_at = now(), detail = NULL")


def mark_failed(conn: duckdb.DuckDBPyConnection, day: date, stage: str, error: str) -> None:
    _update(conn, day, stage, "status = 'failed', detail = $error", error=error)
