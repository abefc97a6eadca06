"""One day's report from start to end: read, render, record, deliver (no Dagster here).

The warehouse is opened twice and briefly: once to read the day, once to record the PDFs and
each delivery step; rendering in between holds no connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from slack_sdk import WebClient

from analytics_pipeline.report.build import RenderedReport, render_report
from analytics_pipeline.report.delivery import DeliveryOutcome, deliver_report
from analytics_pipeline.report.ledger import Delivery, deliveries, record_rendered
from analytics_pipeline.report.model import ReportData
from analytics_pipeline.report.queries import load_report_data

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


@dataclass(frozen=True)
class DailyReport:
    data: ReportData
    rendered: RenderedReport
    delivery: DeliveryOutcome
    ledger: dict[str, Delivery]
    seconds: dict[str, float]  # load, render, deliver, total


def produce_report(
    connect: Connect,
    day: date,
    *,
    reports_dir: Path,
    inactive_after_days: int,
    slack_client: Callable[[], WebClient] | None,
    channel: str,
    backfill: bool,
    redeliver: bool,
    deliver_in_backfill: bool,
) -> DailyReport:
    """Render `day`'s PDFs and deliver what the rules say; raises FunnelNotMaterialised."""
    started = time.monotonic()
    with connect() as conn:
        data = load_report_data(conn, day, inactive_after_days=inactive_after_days)
    loaded = time.monotonic()
    rendered = render_report(data, reports_dir)
    rendered_at = time.monotonic()
    with connect() as conn:
        for stage, pdf in rendered.stages.items():
            record_rendered(
                conn,
                day,
                stage,
                pdf_path=str(pdf.path),
                user_count=len(data.users.get(stage, ())),
                page_count=pdf.pages,
            )
        outcome = deliver_report(
            conn,
            data,
            {stage: pdf.path for stage, pdf in rendered.stages.items()},
            client_factory=slack_client,
            channel=channel,
            backfill=backfill,
            redeliver=redeliver,
            deliver_in_backfill=deliver_in_backfill,
        )
        ledger = deliveries(conn, day)
    finished = time.monotonic()
    return DailyReport(
        data=data,
        rendered=rendered,
        delivery=outcome,
        ledger=ledger,
        seconds={
            "load": loaded - started,
            "render": rendered_at - loaded,
            "deliver": finished - rendered_at,
            "total": finished - started,
        },
    )
