"""Rendering a day's report: the overview PDF and one PDF per stage, across cores when large.

WeasyPrint is pure Python and single-threaded. A report with thousands of users is split
into one bin of PDFs per core, balanced by user count: the run process renders the first bin
itself while `spawn`ed workers (one per further core) render the others. Small reports stay
in-process: starting a worker costs about a second of imports, more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from analytics_pipeline.report.model import STAGES, ReportData
from analytics_pipeline.report.pdf import RenderedPdf, render_overview_pdf, render_stage_pdf

PARALLEL_FROM_USERS = 2_000
MAX_PROCESSES = 4
# Costs in "users listed" (about 0.7 ms of CPU each): the overview with its charts costs
# about as much as 1,000 users, and a worker spends about as long importing WeasyPrint as
# the run process needs to list 1,500 users.
OVERVIEW_COST = 1_000
WORKER_START_COST = 1_500


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


def balance(costs: dict[str, int], bins: int, head_start: int = 0) -> list[list[str]]:
    """Greedy split of the parts into `bins` groups of similar total cost, costliest first.

    Every group but the first starts `head_start` behind (a worker's start-up time).
    """
    groups: list[list[str]] = [[] for _ in range(bins)]
    totals = [0] + [head_start] * (bins - 1)
    for part in sorted(costs, key=lambda p: (-costs[p], p)):
        lightest = totals.index(min(totals))
        groups[lightest].append(part)
        totals[lightest] += costs[part]
    return groups


def _render_parts(data: ReportData, parts: Sequence[str], targets: dict[str, Path]) -> dict:
    results: dict[str, RenderedPdf] = {}
    for part in parts:
        if part == "overview":
            results[part] = render_overview_pdf(data, targets[part])
        else:
            results[part] = render_stage_pdf(data, part, targets[part])
    return results


def render_report(
    data: ReportData, reports_dir: Path, processes: int | None = None
) -> RenderedReport:
    """Write every PDF of `data.day` under reports_dir/<day>/ and return their paths.

    `processes` None picks one per core for reports of PARALLEL_FROM_USERS users or more.
    """
    day_iso = data.day.isoformat()
    folder = report_dir(reports_dir, day_iso)
    parts = ["overview", *STAGES]
    targets = {part: folder / pdf_name(day_iso, part) for part in parts}
    users = sum(len(members) for members in data.users.values())
    if processes is None:
        cores = os.cpu_count() or 1
        processes = min(cores, MAX_PROCESSES) if users >= PARALLEL_FROM_USERS else 1
    if processes <= 1:
        results = _render_parts(data, parts, targets)
    else:
        costs = {part: len(data.users.get(part, ())) for part in STAGES}
        costs["overview"] = OVERVIEW_COST
        own, *others = balance(costs, processes, head_start=WORKER_START_COST)
        others = [group for group in others if group]
        # "spawn": the Dagster run process has threads, and forking those is unsafe.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(len(others), 1), mp_context=context) as pool:
            futures = [
                pool.submit(_render_parts, data.only(group), group, targets) for group in others
            ]
            results = _render_parts(data, own, targets)
            for future in futures:
                results.update(future.result())
    return RenderedReport(
        overview=results["overview"], stages={stage: results[stage] for stage in STAGES}
    )
