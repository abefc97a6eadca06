"""HTML (Jinja2, autoescaped) to PDF (WeasyPrint) with no network access.

WeasyPrint fetches images, stylesheets and fonts through a URL fetcher; ours refuses every
URL except `data:` URIs and makes a refusal fatal, so a stray `http://`, `file://` or `//`
reference in a template (or smuggled in through data) fails the render loudly instead of
reaching out. The CSS is inlined into the page, charts are data: URIs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from weasyprint import HTML, URLFetcher
from weasyprint.urls import FatalURLFetchingError

from analytics_pipeline.report.listing import header_line, listing_blocks, timeline_lines_for
from analytics_pipeline.report.model import ReportData, stage_rules


class NetworkAccessRefused(ValueError):
    """The renderer was asked to load something other than a data: URI."""


class DataURIOnlyFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves `data:` URIs and refuses everything else."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), fail_on_errors=True, allow_redirects=False)

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.startswith("data:"):
            raise NetworkAccessRefused(f"the report renderer loads data: URIs only, not {url!r}")
        return super().fetch(url, headers)


@dataclass(frozen=True)
class RenderedPdf:
    path: Path
    pages: int


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("analytics_pipeline.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def _css() -> str:
    return (resources.files("analytics_pipeline.report") / "templates" / "report.css").read_text(
        encoding="utf-8"
    )


def render_html(template: str, **context: Any) -> str:
    """Render a report template; every value is escaped unless the template says otherwise."""
    generated_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    # The stylesheet is our own file, not data: mark it safe so its quotes stay quotes.
    css = markupsafe.Markup(_css())
    return (
        _environment().get_template(template).render(css=css, generated_at=generated_at, **context)
    )


def html_to_pdf(html: str, target: Path) -> RenderedPdf:
    """Lay out `html` and write it to `target` (atomically: a temp file, then rename)."""
    try:
        document = HTML(string=html, base_url="data:,", url_fetcher=DataURIOnlyFetcher()).render()
    except FatalURLFetchingError as refused:
        # WeasyPrint's fatal fetch error is a BaseException; hand callers a plain error.
        cause = refused.__cause__ or refused
        raise NetworkAccessRefused(str(cause)) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    document.write_pdf(partial)
    partial.replace(target)
    return RenderedPdf(path=target, pages=len(document.pages))


def overview_html(data: ReportData) -> str:
    # Imported here: only the overview has charts, and matplotlib takes a while to import
    # (render workers that list stages never need it).
    from analytics_pipeline.report.charts import (
        STAGE_COLOURS,
        funnel_chart,
        svg_data_uri,
        trend_chart,
    )

    summaries = data.summaries()
    total_change = (
        None
        if data.previous is None
        else data.funnel.signed_up_users - data.previous.signed_up_users
    )
    return render_html(
        "overview.html.j2",
        day=data.day.isoformat(),
        previous_day=None if data.previous is None else data.previous.day.isoformat(),
        summaries=summaries,
        total=data.funnel.signed_up_users,
        total_change=total_change,
        funnel=data.funnel,
        trend=list(data.trend),
        rules=stage_rules(data.inactive_after_days),
        colours=STAGE_COLOURS,
        funnel_chart=svg_data_uri(funnel_chart(data.funnel)),
        trend_chart=svg_data_uri(trend_chart(data.trend)),
    )


def stage_html(data: ReportData, stage: str) -> str:
    users = data.users.get(stage, ())
    timeline_lines = timeline_lines_for(len(users))
    return render_html(
        "stage.html.j2",
        day=data.day.isoformat(),
        summary=data.summary(stage),
        change=data.summary(stage).change_text(),
        rule=stage_rules(data.inactive_after_days)[stage],
        header=header_line(),
        blocks=listing_blocks(users, timeline_lines),
        timeline_lines=timeline_lines,
    )


def render_overview_pdf(data: ReportData, target: Path) -> RenderedPdf:
    return html_to_pdf(overview_html(data), target)


def render_stage_pdf(data: ReportData, stage: str, target: Path) -> RenderedPdf:
    return html_to_pdf(stage_html(data, stage), target)
