"""Rendering a day's report: the overview PDF and one PDF per stage, in parallel when large.

WeasyPrint is pure Python and single-threaded; a report with thousands of users renders
several times faster across processes (one PDF per task, largest first). Small reports stay
in-process: starting workers would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from analytics_pipeline.report.model import STAGES, ReportData
from analytics_pipeline.report.pdf import RenderedPdf, render_overview_pdf, render_stage_pdf

PARALLEL_FROM_USERS = 2_000
MAX_WORKERS = 4


@dataclass(frozen=True)
class RenderedReport:
    overview: RenderedPdf
    stages: dict[str, RenderedPdf]

    def all(self) -> dict[str, RenderedPdf]:
        return {"overview": self.overview, **self.stages}


def report_dir(reports_dir: Path, day_iso: str) -> Path:
    """Where a day's PDFs live: ANALYTICS_REPORTS_DIR/<day>/."""
    return reports_dir / day_iso


def pdf_name(day_iso: str, part: str) -> str:
    return f"funnel-{day_iso}-{part.replace('_', '-')}.pdf"


def _render_one(data: ReportData, part: str, target: Path) -> RenderedPdf:
    if part == "overview":
        return render_overview_pdf(data, target)
    return render_stage_pdf(data, part, target)


def render_report(
    data: ReportData, reports_dir: Path, workers: int | None = None
) -> RenderedReport:
    """Write every PDF of `data.day` under reports_dir/<day>/ and return their paths."""
    day_iso = data.day.isoformat()
    folder = report_dir(reports_dir, day_iso)
    parts = ["overview", *STAGES]
    targets = {part: folder / pdf_name(day_iso, part) for part in parts}
    users = sum(len(members) for members in data.users.values())
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if users >= PARALLEL_FROM_USERS else 1
    results: dict[str, RenderedPdf] = {}
    if workers <= 1:
        for part in parts:
            results[part] = _render_one(data, part, targets[part])
    else:
        # Largest first, so the longest PDF is not the one left to render at the end.
        order = sorted(parts, key=lambda part: -len(data.users.get(part, ())))
        # "spawn": the Dagster run process has threads, and forking those is unsafe.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {
                part: pool.submit(
                    _render_one,
                    data.only(None if part == "overview" else part),
                    part,
                    targets[part],
                )
                for part in order
            }
            results = {part: future.result() for part, future in futures.items()}
    return RenderedReport(
        overview=results["overview"], stages={stage: results[stage] for stage in STAGES}
    )
