"""`funnel_report`: the day's PDFs and their Slack delivery, one daily partition per report."""

from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from analytics_pipeline.defs.loaded import daily_partitions
from analytics_pipeline.defs.table_metadata import (
    OWNERS,
    PARTITION_ROW_COUNT_KEY,
    definition_metadata,
    table_metadata,
)
from analytics_pipeline.report.ledger import FAILED, PENDING, SENT, SKIPPED, Delivery
from analytics_pipeline.report.model import STAGE_TITLES, STAGES, ReportData
from analytics_pipeline.report.queries import FunnelNotMaterialised
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource

if TYPE_CHECKING:
    from analytics_pipeline.report.daily import DailyReport

BACKFILL_TAG = "dagster/backfill"
FUNNEL_REPORT = dg.AssetKey("funnel_report")
REPORT_DELIVERIES = dg.AssetKey("report_deliveries")

# The ledger funnel_report writes; each funnel_report run reports a materialisation of it for
# the same day, so the table has its own page (schema, rows, statuses) in the catalog.
report_deliveries = dg.AssetSpec(
    REPORT_DELIVERIES,
    deps=[FUNNEL_REPORT],
    group_name="report",
    kinds={"duckdb"},
    owners=OWNERS,
    partitions_def=daily_partitions,
    metadata=definition_metadata("report_deliveries"),
    description=(
        "Table report_deliveries, one row per day and stage: what funnel_report rendered "
        "(pdf_path, pages, users) and delivered to Slack (status pending, sent, failed or "
        "skipped, slack_ts, attempts, the last error). Written by funnel_report; each of its "
        "runs reports a materialisation here with the day's statuses."
    ),
)


class FunnelReportConfig(dg.Config):
    redeliver: bool = Field(
        default=False,
        description="Post the day to Slack again even if it was delivered already.",
    )
    deliver_in_backfill: bool = Field(
        default=False,
        description="Let a backfill run post days not delivered yet (backfills only render).",
    )


def funnel_markdown(data: ReportData) -> str:
    """The day's funnel as a Markdown table for the asset's metadata."""
    lines = [
        "| stage | users | change vs day before | entered on the day |",
        "|---|---:|---:|---:|",
    ]
    for summary in data.summaries():
        change = "n/a" if summary.change is None else f"{summary.change:+,}"
        lines.append(
            f"| {summary.title} | {summary.count:,} | {change} | {summary.entered_today:,} |"
        )
    f = data.funnel
    lines.append(f"| **all signed-up users** | **{f.signed_up_users:,}** | | |")
    lines.append("")
    lines.append(
        f"New sign-ups {f.new_signups:,} · newly activated {f.newly_activated:,} · "
        f"newly inactive {f.newly_inactive:,}"
    )
    return "\n".join(lines)


def _deliveries_markdown(rows: dict[str, Delivery], actions: dict[str, str]) -> str:
    lines = ["| stage | status | this run | slack ts | detail |", "|---|---|---|---|---|"]
    for stage in STAGES:
        row = rows.get(stage)
        if row is None:
            continue
        detail = (row.detail or "").replace("|", "/")
        lines.append(
            f"| {STAGE_TITLES[stage]} | {row.status} | {actions.get(stage, '')} | "
            f"{row.slack_ts or ''} | {detail} |"
        )
    return "\n".join(lines)


def _metadata(report: "DailyReport") -> dict[str, Any]:
    """What the UI shows for a materialisation: PDF paths, page counts, the funnel table."""
    rendered, data = report.rendered, report.data
    metadata: dict[str, Any] = {
        "day": data.day.isoformat(),
        "funnel": dg.MetadataValue.md(funnel_markdown(data)),
        "deliveries": dg.MetadataValue.md(
            _deliveries_markdown(report.ledger, report.delivery.actions)
        ),
        "overview_pdf": dg.MetadataValue.path(str(rendered.overview.path)),
        **{
            f"{stage}_pdf": dg.MetadataValue.path(str(pdf.path))
            for stage, pdf in rendered.stages.items()
        },
        **{
            f"{part}_pages": dg.MetadataValue.int(pdf.pages) for part, pdf in rendered.all().items()
        },
        "total_pages": dg.MetadataValue.int(sum(pdf.pages for pdf in rendered.all().values())),
        "users": dg.MetadataValue.int(sum(len(members) for members in data.users.values())),
    }
    for step, seconds in report.seconds.items():
        metadata[f"{step}_seconds"] = dg.MetadataValue.float(round(seconds, 2))
    return metadata


def deliveries_materialization(
    warehouse: WarehouseResource, day: date, rows: dict[str, Delivery]
) -> dg.AssetMaterialization:
    """report_deliveries' materialisation for `day`: the table, and the day's statuses."""
    with warehouse.connect() as conn:
        table = table_metadata(conn, "report_deliveries")
    statuses = [row.status for row in rows.values()]
    return dg.AssetMaterialization(
        asset_key=REPORT_DELIVERIES,
        partition=day.isoformat(),
        description=f"The {day} report's deliveries, stage by stage.",
        metadata={
            **table,
            PARTITION_ROW_COUNT_KEY: dg.MetadataValue.int(len(rows)),
            **{
                f"stages_{status}": dg.MetadataValue.int(statuses.count(status))
                for status in (SENT, FAILED, SKIPPED, PENDING)
            },
            "attempts": dg.MetadataValue.int(sum(row.attempts for row in rows.values())),
        },
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=[dg.AssetKey("funnel_daily"), dg.AssetKey("users_by_activation_stage")],
    pool="report",
    group_name="report",
    kinds={"pdf", "slack"},
    owners=OWNERS,
    description=(
        "The daily funnel report (PDF files, not a table): an overview PDF and one PDF per "
        "stage under ANALYTICS_REPORTS_DIR/<day>/, posted to SLACK_REPORTS_CHANNEL once per day "
        "and stage (header message, PDF and up to 20 user journeys in its thread). What was "
        "delivered is recorded in report_deliveries."
    ),
)
def funnel_report(
    context: dg.AssetExecutionContext,
    config: FunnelReportConfig,
    warehouse: WarehouseResource,
    slack: SlackResource,
    analytics: AnalyticsResource,
) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    analytics.run_in_background(context.log.info)
    try:
        # Imported here: WeasyPrint and matplotlib cost ~0.8 s, which every ingest run and
        # sensor evaluation would otherwise pay just to load the code location.
        from analytics_pipeline.report.daily import produce_report

        report = produce_report(
            warehouse.connect,
            day,
            reports_dir=analytics.reports_path,
            inactive_after_days=analytics.inactive_after_days,
            slack_client=slack.client if slack.enabled else None,
            channel=slack.reports_channel,
            backfill=BACKFILL_TAG in context.run.tags,
            redeliver=config.redeliver,
            deliver_in_backfill=config.deliver_in_backfill,
        )
    except FunnelNotMaterialised as missing:
        raise dg.Failure(description=str(missing)) from None
    for stage, action in report.delivery.actions.items():
        context.log.info(f"{stage}: {action}")
    context.log_event(deliveries_materialization(warehouse, day, report.ledger))
    metadata = _metadata(report)
    if report.delivery.failure is not None:
        raise dg.Failure(
            description=(
                f"Slack delivery of the {day} report stopped at stage "
                f"{report.delivery.failed_stage}: {report.delivery.failure} Stages delivered so "
                f"far stay delivered; re-materialise partition {day} to deliver the rest."
            ),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)
