"""The funnel_report asset end to end: real Dagster runs on the PostgreSQL-backed instance,
a real DuckDB file, and the Slack stub through slack_sdk."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import dagster as dg

from analytics_pipeline.defs.report.assets import FUNNEL_REPORT
from analytics_pipeline.report.model import STAGES
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.warehouse import connect
from analytics_pipeline_tests.report.conftest import DAY, small_population
from analytics_pipeline_tests.report.seed import SeedUser, at

STAGE_TITLES_IN_ORDER = ["Signed up", "Activated", "Active", "Inactive"]


def deliveries(lake: Path) -> dict[str, dict]:
    conn = connect(lake)
    try:
        cursor = conn.execute("SELECT * FROM report_deliveries WHERE day = ?", [DAY])
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()
    return {row["stage"]: row for row in rows}


def headers(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["kind"] == "message" and not m.get("thread_ts")]


def header_stage(message: dict) -> str:
    return message["text"].split(" · ")[1].split(":")[0]


def thread(messages: list[dict], parent: dict) -> list[dict]:
    return [m for m in messages if m.get("thread_ts") == parent["ts"]]


def materializations(result: dg.ExecuteInProcessResult) -> list[dg.AssetMaterialization]:
    return [
        e.event_specific_data.materialization for e in result.get_asset_materialization_events()
    ]


def failure_message(result) -> str:
    (event,) = result.get_step_failure_events()
    return event.step_failure_data.error.message


def test_a_day_is_posted_with_pdfs_and_journeys_once_kept_on_rerun_and_posted_again_on_redeliver(
    seed, run_report, slack_stub, slack_resource, lake
):
    """One day through three runs, each checked as a reader would: the first posts it, the
    second (a re-materialisation) re-renders without posting and still reports the day's
    deliveries, the third (`redeliver`) posts it again. (Four tests once, each paying for the
    same first run, ~3.5 CPU-s.)"""
    seed()
    assert run_report(slack_resource).success

    messages = slack_stub.messages("#portal-analytics")
    tops = headers(messages)
    assert [header_stage(m) for m in tops] == STAGE_TITLES_IN_ORDER
    assert len([f for f in slack_stub.files() if f["completed"]]) == 4
    stage_sizes = {stage: 0 for stage in STAGES}
    for user in small_population():
        stage_sizes[user.stage] += 1
    rows = deliveries(lake)
    for stage, top in zip(STAGES, tops, strict=True):
        replies = thread(messages, top)
        shares = [m for m in replies if m["kind"] == "file_share"]
        journeys = [m for m in replies if m["kind"] == "message"]
        assert len(shares) == 1 and len(journeys) == stage_sizes[stage]
        assert all(m["thread_ts"] == top["ts"] for m in replies)
        row = rows[stage]
        assert (row["status"], row["slack_ts"]) == ("sent", top["ts"])
        assert row["delivered_at"] is not None and row["replies_posted"] == stage_sizes[stage]
        (uploaded,) = [f for f in slack_stub.files() if f["id"] == shares[0]["files"][0]]
        local = Path(row["pdf_path"]).read_bytes()
        assert uploaded["sha256"] == hashlib.sha256(local).hexdigest()
        assert uploaded["name"] == Path(row["pdf_path"]).name

    # Re-materialising a delivered day re-renders but does not post again ...
    first = deliveries(lake)
    posted = len(slack_stub.messages())
    result = run_report(slack_resource)
    assert result.success
    assert len(slack_stub.messages()) == posted
    again = deliveries(lake)
    for stage in STAGES:
        assert again[stage]["status"] == "sent"
        assert again[stage]["slack_ts"] == first[stage]["slack_ts"]
        assert again[stage]["rendered_at"] > first[stage]["rendered_at"]
    [report] = [m for m in materializations(result) if m.asset_key == FUNNEL_REPORT]
    table = report.metadata["deliveries"]
    assert "kept (already delivered)" in table.value

    # ... and each report run, this one too, shows the day's deliveries as a materialisation
    # of the table.
    [deliveries_event] = [
        m for m in materializations(result) if m.asset_key.to_user_string() == ("report_deliveries")
    ]
    metadata = deliveries_event.metadata
    assert deliveries_event.partition == DAY.isoformat()
    assert metadata["dagster/table_name"].value == "analytics.main.report_deliveries"
    assert metadata["dagster/row_count"] == dg.MetadataValue.int(len(STAGES))
    assert metadata["dagster/partition_row_count"] == dg.MetadataValue.int(len(STAGES))
    columns = [c.name for c in metadata["dagster/column_schema"].value.columns]
    assert columns[:6] == ["day", "stage", "status", "pdf_path", "slack_ts", "delivered_at"]
    assert metadata["stages_sent"] == dg.MetadataValue.int(len(STAGES))
    assert metadata["stages_failed"] == dg.MetadataValue.int(0)
    assert set(deliveries(lake)) == set(STAGES)

    # The redeliver config posts the day again.
    assert run_report(slack_resource, config={"redeliver": True}).success
    tops = headers(slack_stub.messages())
    assert [header_stage(m) for m in tops] == STAGE_TITLES_IN_ORDER * 2
    redelivered = deliveries(lake)
    assert {redelivered[stage]["slack_ts"] for stage in STAGES} == {m["ts"] for m in tops[4:]}
    assert all(redelivered[stage]["slack_ts"] != first[stage]["slack_ts"] for stage in STAGES)


def twenty_five_active_users() -> list[SeedUser]:
    """25 users active on DAY, the latest active last; three of them new in the stage."""
    users = []
    for n in range(25):
        entered = n in (7, 13, 21)
        users.append(
            SeedUser(
                f"user-{n:02d}",
                "active",
                at(DAY - timedelta(days=10)),
                "activated" if entered else "active",
                [
                    (at(DAY - timedelta(days=9)), "code_run"),
                    (at(DAY - timedelta(days=1), 0, n), "code_run"),
                ],
            )
        )
    return users


def test_backfill_runs_render_without_posting_unless_the_config_asks(
    seed, run_report, slack_stub, slack_resource, lake
):
    """Then the delivering run's threads: thread replies are twenty users, new in the stage
    first, then the most recently active. (A test of its own once, paying a run for it.)"""
    seed(twenty_five_active_users())
    backfill = {"dagster/backfill": "test-backfill"}
    assert run_report(slack_resource, tags=backfill).success
    assert slack_stub.messages() == []
    rows = deliveries(lake)
    assert {row["status"] for row in rows.values()} == {"skipped"}
    assert all("Backfill run" in row["detail"] for row in rows.values())
    assert all(Path(row["pdf_path"]).exists() for row in rows.values())

    assert run_report(slack_resource, tags=backfill, config={"deliver_in_backfill": True}).success
    messages = slack_stub.messages()
    assert len(headers(messages)) == 4
    assert {row["status"] for row in deliveries(lake).values()} == {"sent"}

    (active,) = [m for m in headers(messages) if header_stage(m) == "Active"]
    journeys = [m for m in thread(messages, active) if m["kind"] == "message"]
    listed = [m["text"].split(" (")[0] for m in journeys]
    assert len(listed) == 20
    assert listed[:3] == ["user-21", "user-13", "user-07"]  # new in the stage, latest first
    assert listed[3:] == [f"user-{n:02d}" for n in range(24, -1, -1) if n not in (7, 13, 21)][:17]
    assert "new in this stage on 2026-03-04" in journeys[0]["text"]


def failed_run_statuses(result: dg.ExecuteInProcessResult, lake) -> list[str]:
    """The stages' statuses after a run that Slack failed midway, checked for what a
    failure leaves: the stages before it sent, the failed one, the ones after it pending."""
    assert not result.success
    message = failure_message(result)
    assert "Slack answered internal_error (HTTP 500)" in message
    assert "re-materialise partition 2026-03-04" in message
    rows = deliveries(lake)
    statuses = [rows[stage]["status"] for stage in STAGES]
    failed_at = statuses.index("failed")
    assert statuses[:failed_at] == ["sent"] * failed_at
    assert statuses[failed_at + 1 :] == ["pending"] * (3 - failed_at)
    return statuses


def test_slack_failures_midway_leave_the_rest_retryable_without_duplicates(
    seed, run_report, slack_stub, slack_resource, lake
):
    """A message that fails, then (in the retry) a PDF upload that fails, then a retry that
    delivers the rest: nothing posted twice. (Two tests of two runs each once, one per kind of
    call failing on a first run; a resumed run failing too proves as much in one run less.)"""
    seed()
    # signed_up (header + 2 replies), activated header; its 1st reply fails
    slack_stub.fail("chat.postMessage", [{"delay": 0}] * 4 + [{"status": 500}])
    statuses = failed_run_statuses(run_report(slack_resource, raise_on_error=False), lake)
    assert statuses == ["sent", "failed", "pending", "pending"]
    # the retry finishes activated (its PDF was uploaded), then the third stage's PDF fails
    slack_stub.fail("files.completeUploadExternal", [{"status": 500}])
    statuses = failed_run_statuses(run_report(slack_resource, raise_on_error=False), lake)
    assert statuses == ["sent", "sent", "failed", "pending"]

    assert run_report(slack_resource).success
    messages = slack_stub.messages()
    tops = headers(messages)
    assert [header_stage(m) for m in tops] == STAGE_TITLES_IN_ORDER
    for top in tops:
        replies = thread(messages, top)
        shares = [m for m in replies if m["kind"] == "file_share"]
        journeys = [m["text"] for m in replies if m["kind"] == "message"]
        assert len(shares) == 1
        assert len(journeys) == len(set(journeys)) > 0
    assert {row["status"] for row in deliveries(lake).values()} == {"sent"}


def test_a_rejected_token_fails_the_run_without_revealing_it(seed, run_report, slack_stub, lake):
    seed()
    secret = "xoxb-not-the-right-token-1234"
    result = run_report(
        SlackResource(bot_token=secret, api_url=slack_stub.api_url), raise_on_error=False
    )
    assert not result.success
    message = failure_message(result)
    assert "invalid_auth" in message and "Check SLACK_BOT_TOKEN" in message
    everything = " ".join(str(event) for event in result.all_events)
    assert secret not in everything
    assert deliveries(lake)["signed_up"]["status"] == "failed"


def test_without_a_slack_token_stages_are_skipped_and_the_materialisation_shows_the_pdfs(
    seed, run_report, slack_off, reports_dir, lake
):
    """One run without Slack, checked for what it records (every stage skipped, saying why)
    and what its materialisation shows (PDF paths, page counts, the funnel as a table). Two
    tests once, with the same run."""
    seed()
    result = run_report(slack_off)
    assert result.success
    rows = deliveries(lake)
    assert {row["status"] for row in rows.values()} == {"skipped"}
    assert all("SLACK_BOT_TOKEN" in row["detail"] for row in rows.values())
    assert all(row["slack_ts"] is None for row in rows.values())

    by_key = {m.asset_key.to_user_string(): m for m in materializations(result)}
    assert set(by_key) == {"funnel_report", "report_deliveries"}
    materialisation = by_key["funnel_report"]
    metadata = materialisation.metadata
    assert materialisation.partition == DAY.isoformat()
    folder = reports_dir / DAY.isoformat()
    assert metadata["overview_pdf"].value == str(folder / "funnel-2026-03-04-overview.pdf")
    for stage in STAGES:
        path = Path(metadata[f"{stage}_pdf"].value)
        assert path.parent == folder and path.exists()
    # page counts as numbers, one entry each, so the Plots tab can draw them
    pages = {"overview": 2, "signed_up": 1, "activated": 1, "active": 1, "inactive": 1}
    for part, count in pages.items():
        assert metadata[f"{part}_pages"] == dg.MetadataValue.int(count)
    assert metadata["total_pages"] == dg.MetadataValue.int(6)
    assert isinstance(metadata["total_seconds"], dg.FloatMetadataValue)
    funnel = metadata["funnel"].value
    assert "| Signed up | 2 | +0 | 1 |" in funnel
    assert "| Inactive | 3 | +1 | 1 |" in funnel
    assert "**9**" in funnel


def test_report_of_a_day_without_funnel_fails_saying_what_to_materialise(run_report, slack_off):
    result = run_report(slack_off, raise_on_error=False)
    assert not result.success
    assert "materialise funnel_daily and users_by_activation_stage" in failure_message(result)
