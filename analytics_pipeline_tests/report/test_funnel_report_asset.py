"""The funnel_report asset end to end: real Dagster run (PostgreSQL instance), real DuckDB
file, real Slack stub through slack_sdk."""

from __future__ import annotations

from pathlib import Path

from analytics_pipeline.report.model import STAGES
from analytics_pipeline.warehouse import connect
from analytics_pipeline_tests.report.conftest import DAY


def _deliveries(warehouse_path: Path) -> dict[str, tuple]:
    conn = connect(warehouse_path)
    try:
        rows = conn.execute(
            "SELECT stage, status, pdf_path, slack_ts, delivered_at, replies_posted, detail "
            "FROM report_deliveries WHERE day = ?",
            [DAY],
        ).fetchall()
    finally:
        conn.close()
    return {row[0]: row[1:] for row in rows}


def _top_level(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["kind"] == "message" and not m.get("thread_ts")]


def test_report_posts_four_stage_messages_with_their_pdfs_and_journeys_in_each_thread(
    seed, run_report, slack_stub, slack_resource, warehouse_path
):
    seed()
    result = run_report(slack_resource)
    assert result.success

    messages = slack_stub.messages()
    headers = _top_level(messages)
    assert [h["text"].split(" · ")[1].split(":")[0] for h in headers] == [
        "Signed up",
        "Activated",
        "Active",
        "Inactive",
    ]
    files = [f for f in slack_stub.files() if f["completed"]]
    assert len(files) == 4
    for header in headers:
        thread = [m for m in messages if m.get("thread_ts") == header["ts"]]
        shares = [m for m in thread if m["kind"] == "file_share"]
        assert len(shares) == 1 and shares[0]["channel"] == header["channel"]
        replies = [m for m in thread if m["kind"] == "message"]
        assert replies, header["text"]
    rows = _deliveries(warehouse_path)
    assert {stage: row[0] for stage, row in rows.items()} == dict.fromkeys(STAGES, "sent")
