"""`funnel_report`: the day's PDFs and their Slack delivery, one daily partition per report."""

import time
from datetime import date

import dagster as dg
from pydantic import Field

from analytics_pipeline.report.build import render_report
from analytics_pipeline.report.delivery import deliver_report
from analytics_pipeline.report.ledger import deliveries, record_rendered
from analytics_pipeline.report.model import STAGE_TITLES, STAGES, ReportData
from analytics_pipeline.report.queries import FunnelNotMaterialised, load_report_data
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.settings import load_settings

# The funnel's partitions (built from the same setting as analytics_pipeline.defs.funnel).
report_partitions = dg.DailyPartitionsDefinition(start_date=load_settings().funnel_start_date)

BACKFILL_TAG = "dagster/backfill"


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
    lines.append(f"| **all signed-up users** | **{f.total:,}** | | |")
    lines.append("")
    lines.append(
        f"New sign-ups {f.new_signups:,} · newly activated {f.newly_activated:,} · "
        f"newly inactive {f.newly_inactive:,}"
    )
    return "\n".join(lines)


def _deliveries_markdown(rows: dict, actions: dict[str, str]) -> str:
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


@dg.asset(
    partitions_def=report_partitions,
    deps=[dg.AssetKey("funnel_daily"), dg.AssetKey("users_by_activation_stage")],
    pool="duckdb",
    group_name="report",
    kinds={"pdf", "slack"},
    description=(
        "The daily funnel report: an overview PDF and one PDF per stage under "
        "ANALYTICS_REPORTS_DIR/<day>/, posted to SLACK_REPORTS_CHANNEL once per day and stage "
        "(header message, PDF and up to 20 user journeys in its thread)."
    ),
)
def funnel_report(
    context: dg.AssetExecutionContext,
    config: FunnelReportConfig,
    warehouse: WarehouseResource,
    slack: SlackResource,
) -> dg.MaterializeResult:
    settings = load_settings()
    day = date.fromisoformat(context.partition_key)
    started = time.monotonic()
    with warehouse.connect() as conn:
        try:
            data = load_report_data(conn, day, inactive_after_days=settings.inactive_after_days)
        except FunnelNotMaterialised as missing:
            raise dg.Failure(description=str(missing)) from None
    loaded = time.monotonic()
    rendered = render_report(data, settings.reports_dir.resolve())
    render_s = time.monotonic() - loaded
    context.log.info(f"Rendered the report for {day} in {render_s:.1f} s")

    backfill = BACKFILL_TAG in context.run.tags
    with warehouse.connect() as conn:
        for stage, pdf in rendered.stages.items():
            record_rendered(
                conn,
                day,
                stage,
                pdf_path=str(pdf.path),
                user_count=len(data.users.get(stage, ())),
                page_count=pdf.pages,
            )
        delivering = time.monotonic()
        outcome = deliver_report(
            conn,
            data,
            {stage: pdf.path for stage, pdf in rendered.stages.items()},
            client_factory=slack.client if slack.enabled else None,
            channel=slack.reports_channel,
            backfill=backfill,
            redeliver=config.redeliver,
            deliver_in_backfill=config.deliver_in_backfill,
        )
        deliver_s = time.monotonic() - delivering
        rows = deliveries(conn, day)

    metadata: dict[str, dg.RawMetadataValue] = {
        "day": day.isoformat(),
        "funnel": dg.MetadataValue.md(funnel_markdown(data)),
        "deliveries": dg.MetadataValue.md(_deliveries_markdown(rows, outcome.actions)),
        "overview_pdf": dg.MetadataValue.path(str(rendered.overview.path)),
        "page_counts": dg.MetadataValue.json(
            {part: pdf.pages for part, pdf in rendered.all().items()}
        ),
        "total_pages": sum(pdf.pages for pdf in rendered.all().values()),
        "users": sum(len(members) for members in data.users.values()),
        "render_seconds": round(render_s, 2),
        "delivery_seconds": round(deliver_s, 2),
        "total_seconds": round(time.monotonic() - started, 2),
    }
    for stage, pdf in rendered.stages.items():
        metadata[f"{stage}_pdf"] = dg.MetadataValue.path(str(pdf.path))
    for stage, action in outcome.actions.items():
        context.log.info(f"{stage}: {action}")
    if outcome.failure is not None:
        raise dg.Failure(
            description=(
                f"Slack delivery of the {day} report stopped at stage {outcome.failed_stage}: "
                f"{outcome.failure} Stages delivered so far stay delivered; re-materialise "
                f"partition {day} to deliver the rest."
            ),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)
