"""Delivering a rendered report to Slack, stage by stage, exactly once per day and stage.

For each stage, in funnel order: the header message (its ts is the thread parent), the stage
PDF uploaded into that thread with `files_upload_v2`, then up to 20 journey replies. Each step
is recorded in `report_deliveries` as soon as Slack confirms it, so a failed or interrupted
run is resumed by the next one without posting anything twice. The first failure stops the
delivery: later stages stay pending and keep the channel in funnel order when retried.

Whether a stage is posted at all is `decide`: a delivered stage is not posted again unless
`redeliver`; backfill runs post only when asked; without a bot token nothing is posted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from slack_sdk import WebClient

from analytics_pipeline.report import ledger
from analytics_pipeline.report.model import STAGES, ReportData, stage_rules
from analytics_pipeline.report.slack_messages import (
    pdf_comment,
    reply_users,
    stage_header,
    user_reply,
)
from analytics_pipeline.slack.errors import short_description

DELIVER = "deliver"
KEEP = "keep"
SKIP = "skip"

SLACK_OFF = "Slack is not configured (SLACK_BOT_TOKEN is unset): nothing was posted."
BACKFILL = (
    "Backfill run: rendered, not posted. Launch with run config redeliver: true or "
    "deliver_in_backfill: true to post it."
)


@dataclass(frozen=True)
class Decision:
    action: str  # DELIVER, KEEP (already delivered, left alone) or SKIP
    reason: str
    fresh: bool = False  # deliver from scratch, forgetting an earlier delivery


def decide(
    status: str | None,
    *,
    slack_enabled: bool,
    backfill: bool,
    redeliver: bool,
    deliver_in_backfill: bool,
) -> Decision:
    """What to do with one stage of a day whose ledger status is `status` (None: new)."""
    delivered = status == ledger.SENT
    if delivered and not redeliver:
        return Decision(KEEP, "already delivered; run config redeliver: true posts it again")
    if not slack_enabled:
        return Decision(KEEP if delivered else SKIP, SLACK_OFF)
    if backfill and not (redeliver or deliver_in_backfill):
        return Decision(KEEP if delivered else SKIP, BACKFILL)
    return Decision(DELIVER, "redelivery requested" if delivered else "to deliver", delivered)


@dataclass
class DeliveryOutcome:
    """What happened per stage: the ledger row afterwards and what this run did."""

    actions: dict[str, str] = field(default_factory=dict)  # stage -> posted/kept/skipped/...
    failure: str | None = None  # the error that stopped the delivery, if any
    failed_stage: str | None = None


def describe_error(error: Exception, channel: str) -> str:
    """A short, secret-free description of a delivery error (never the token)."""
    return short_description(error, channel, channel_setting="SLACK_REPORTS_CHANNEL")


def deliver_stage(
    client: WebClient,
    conn: duckdb.DuckDBPyConnection,
    data: ReportData,
    stage: str,
    *,
    pdf_path: Path,
    channel: str,
) -> None:
    """Post one stage (or the rest of it), recording each step; raises on Slack errors."""
    day = data.day
    row = ledger.deliveries(conn, day)[stage]
    summary = data.summary(stage)
    users = reply_users(data.users.get(stage, ()))
    slack_ts, channel_id = row.slack_ts, row.channel_id
    if slack_ts is None or channel_id is None:
        header = stage_header(
            summary,
            day,
            stage_rules(data.inactive_after_days)[stage],
            replies=len(users),
            pdf_name=pdf_path.name,
        )
        response = client.chat_postMessage(
            channel=channel, text=header.text, blocks=header.blocks, unfurl_links=False
        )
        slack_ts, channel_id = str(response["ts"]), str(response.get("channel") or channel)
        ledger.record_header(conn, day, stage, channel_id=channel_id, slack_ts=slack_ts)
    if row.file_id is None:
        # files.completeUploadExternal takes a channel id, hence the one the header returned.
        upload = client.files_upload_v2(
            channel=channel_id,
            thread_ts=slack_ts,
            file=str(pdf_path),
            filename=pdf_path.name,
            title=pdf_path.name,
            initial_comment=pdf_comment(summary, day),
        )
        uploaded = upload.get("file") or (upload.get("files") or [{}])[0]
        ledger.record_file(conn, day, stage, str(uploaded.get("id") or "uploaded"))
    for index in range(row.replies_posted, len(users)):
        reply = user_reply(users[index], day)
        client.chat_postMessage(
            channel=channel_id,
            thread_ts=slack_ts,
            text=reply.text,
            blocks=reply.blocks,
            unfurl_links=False,
        )
        ledger.record_replies(conn, day, stage, index + 1)
    ledger.mark_sent(conn, day, stage)


def deliver_report(
    conn: duckdb.DuckDBPyConnection,
    data: ReportData,
    pdfs: dict[str, Path],
    *,
    client_factory: Callable[[], WebClient] | None,
    channel: str,
    backfill: bool,
    redeliver: bool,
    deliver_in_backfill: bool,
) -> DeliveryOutcome:
    """Deliver every stage of `data.day` that `decide` says to; `client_factory` None = no
    Slack. Stops at the first failure and records it; never raises for Slack errors."""
    outcome = DeliveryOutcome()
    rows = ledger.deliveries(conn, data.day)
    client: WebClient | None = None
    for stage in STAGES:
        row = rows.get(stage)
        decision = decide(
            None if row is None else row.status,
            slack_enabled=client_factory is not None,
            backfill=backfill,
            redeliver=redeliver,
            deliver_in_backfill=deliver_in_backfill,
        )
        if outcome.failure is not None and decision.action == DELIVER:
            outcome.actions[stage] = "not attempted (an earlier stage failed)"
            continue
        if decision.action == KEEP:
            outcome.actions[stage] = "kept (already delivered)"
            continue
        if decision.action == SKIP:
            ledger.mark_skipped(conn, data.day, stage, decision.reason)
            outcome.actions[stage] = "skipped"
            continue
        assert client_factory is not None
        client = client or client_factory()
        ledger.start_attempt(
            conn,
            data.day,
            stage,
            fresh=decision.fresh,
            replies=len(reply_users(data.users.get(stage, ()))),
        )
        try:
            deliver_stage(client, conn, data, stage, pdf_path=pdfs[stage], channel=channel)
        except Exception as error:  # recorded here, reported by the caller
            message = describe_error(error, channel)
            ledger.mark_failed(conn, data.day, stage, message)
            outcome.actions[stage] = "failed"
            outcome.failure, outcome.failed_stage = message, stage
            continue
        outcome.actions[stage] = "posted"
    return outcome
