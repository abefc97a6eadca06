"""The PDFs as a reader gets them: text read back with pypdf, a page looked at as an image."""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from analytics_pipeline.report import build
from analytics_pipeline.report.build import RenderedReport, balance, render_report
from analytics_pipeline.report.charts import funnel_chart
from analytics_pipeline.report.model import STAGE_TITLES, STAGES, ReportData
from analytics_pipeline.report.pdf import NetworkAccessRefused, html_to_pdf, stage_html
from analytics_pipeline.report.queries import FunnelNotMaterialised, load_report_data
from analytics_pipeline.warehouse import Lake, connect
from analytics_pipeline_tests.fixtures.stack import StackInfo
from analytics_pipeline_tests.fixtures.warehouse import clone_lake, release_lake
from analytics_pipeline_tests.report.conftest import DAY, small_population
from analytics_pipeline_tests.report.seed import at, events_table, seed_report_day


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdf-report")


@pytest.fixture(scope="module")
def report_lake(
    stack: StackInfo, lake_catalog_database: str, lake_template: Lake, report_dir: Path
) -> Iterator[Lake]:
    """The lake the module's one report is rendered from (a migrated clone); read-only after."""
    lake = clone_lake(stack, lake_catalog_database, lake_template, report_dir / "lake")
    yield lake
    release_lake(stack, lake_catalog_database, lake)


@pytest.fixture(scope="module")
def report(report_lake: Lake, report_dir: Path) -> tuple[ReportData, RenderedReport]:
    """The small population's report, seeded and rendered once for the module (rendering is
    ~3 CPU-s); the tests below only read it, each checking another side of it."""
    conn = connect(report_lake)
    try:
        seed_report_day(conn, DAY, small_population(DAY))
        # An action after the report day: a report is as of its day, so it must not show.
        conn.execute(
            f"INSERT INTO {events_table(conn)} (source_topic, event_id, user_id, ts, action, "
            "ingest_batch_id) VALUES ('portal-backend', 'late-1', 'carol', ?, 'code_run', 2)",
            [at(DAY + timedelta(days=2), 9)],
        )
        data = load_report_data(conn, DAY, inactive_after_days=15)
    finally:
        conn.close()
    return data, render_report(data, report_dir / "reports")


def _stage_users(lake: Lake) -> dict[str, list[str]]:
    conn = connect(lake)
    try:
        rows = conn.execute(
            "SELECT stage, user_id FROM users_by_activation_stage WHERE day = ?", [DAY]
        ).fetchall()
    finally:
        conn.close()
    users: dict[str, list[str]] = {stage: [] for stage in STAGES}
    for stage, user_id in rows:
        users[stage].append(user_id)
    return users


def test_pdfs_are_written_under_the_reports_dir_by_day(report, report_dir):
    _, rendered = report
    folder = report_dir / "reports" / DAY.isoformat()
    assert {pdf.path.parent for pdf in rendered.all().values()} == {folder}
    assert sorted(p.name for p in folder.iterdir()) == [
        "funnel-2026-03-04-activated.pdf",
        "funnel-2026-03-04-active.pdf",
        "funnel-2026-03-04-inactive.pdf",
        "funnel-2026-03-04-overview.pdf",
        "funnel-2026-03-04-signed-up.pdf",
    ]


def test_overview_counts_equal_funnel_daily(report, report_lake):
    _, rendered = report
    conn = connect(report_lake)
    try:
        counts = conn.execute(
            "SELECT signed_up, activated, active, inactive FROM funnel_daily WHERE day = ?", [DAY]
        ).fetchone()
    finally:
        conn.close()
    text = pdf_text(rendered.overview.path)
    for stage, count in zip(STAGES, counts, strict=True):
        table_row = re.search(rf"^{STAGE_TITLES[stage]} ([\d,]+) \d+%", text, re.MULTILINE)
        assert table_row is not None, text
        assert int(table_row.group(1).replace(",", "")) == count
    assert re.search(rf"users {sum(counts)} ", text)


def test_each_stage_pdf_states_its_count_and_lists_every_user(report, report_lake):
    data, rendered = report
    users = _stage_users(report_lake)
    for stage in STAGES:
        text = pdf_text(rendered.stages[stage].path)
        count = data.funnel.count(stage)
        assert f"{count} user{'s' if count != 1 else ''} (" in text
        assert users[stage], stage
        for user_id in users[stage]:
            assert user_id in text, (stage, user_id)


def test_users_new_in_the_stage_come_first_and_are_marked(report):
    _, rendered = report
    text = pdf_text(rendered.stages["signed_up"].path)
    assert text.index("● ada@example.com") < text.index("<script>alert(1)</script>")


def test_user_ids_with_html_markup_come_out_as_text(report):
    data, rendered = report
    assert "<script>alert(1)</script>" in pdf_text(rendered.stages["signed_up"].path)
    assert "bob</td><td>x" in pdf_text(rendered.stages["activated"].path)
    html = stage_html(data, "signed_up")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_journeys_are_shown_as_they_stood_at_the_end_of_the_report_day(report):
    data, rendered = report
    carol = next(u for u in data.users["activated"] if u.user_id == "carol")
    assert carol.timeline == ("02-27 signup", "03-02 topic")
    assert carol.last_meaningful_at == at(DAY - timedelta(days=2), 10)
    assert "03-06" not in pdf_text(rendered.stages["activated"].path)


def test_report_for_a_day_without_funnel_fails_with_what_to_do(lake):
    conn = connect(lake)
    try:
        with pytest.raises(FunnelNotMaterialised, match="materialise funnel_daily"):
            load_report_data(conn, DAY, inactive_after_days=15)
    finally:
        conn.close()


def test_without_a_funnel_for_the_day_before_todays_signups_count_as_entered(seed, lake):
    seed(previous_day=False)
    conn = connect(lake)
    try:
        data = load_report_data(conn, DAY, inactive_after_days=15)
    finally:
        conn.close()
    assert data.previous is None
    assert data.summary("signed_up").change_text() == "no funnel for the day before"
    entered = [u.user_id for stage in STAGES for u in data.users[stage] if u.entered_today]
    assert entered == ["ada@example.com"]


@pytest.fixture
def local_http_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 that records every request it gets."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "markup",
    [
        '<link rel="stylesheet" href="{url}/style.css">',
        '<img src="{url}/logo.png">',
        "<style>@import url({url}/more.css);</style>",
        '<img src="file:///etc/hostname">',
    ],
)
def test_renderer_loads_nothing_but_data_uris(markup, local_http_server, tmp_path):
    url, requests = local_http_server
    html = f"<html><head>{markup.format(url=url)}</head><body>x</body></html>"
    with pytest.raises(NetworkAccessRefused, match="loads data: URIs only"):
        html_to_pdf(html, tmp_path / "x.pdf")
    assert requests == []
    assert not (tmp_path / "x.pdf").exists()


def test_charts_are_reproducible_svg_with_real_text(report):
    data, _ = report
    first, second = funnel_chart(data.funnel), funnel_chart(data.funnel)
    assert first == second
    assert "<text" in first and "Signed up (all): 9" in first


def test_a_rendered_page_looks_like_a_page_with_content(report, tmp_path_factory):
    _, rendered = report
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm is missing: install poppler-utils (`make sysdeps`)"
    artifacts = tmp_path_factory.mktemp("report-artifacts")
    prefix = artifacts / "overview-page-1"
    page_one = ["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"]
    subprocess.run(
        [pdftoppm, *page_one, str(rendered.overview.path), str(prefix)], check=True, timeout=60
    )
    png = prefix.with_suffix(".png")
    print(f"rendered overview page: {png}")
    with Image.open(png) as image:
        width, height = image.size  # A4 (210 x 297 mm) at 60 dpi: 496 x 702 pixels
        assert abs(width - 496) <= 1 and abs(height - 702) <= 1
        grey = image.convert("L")
        dark = sum(grey.histogram()[:200])
        share = dark / (image.size[0] * image.size[1])
    assert 0.02 < share < 0.5, f"share of non-blank pixels {share:.3f}, see {png}"


def test_rendering_across_processes_gives_the_same_pdfs(report, tmp_path, monkeypatch):
    data, in_process = report
    # A tiny report would all stay in the run process; make workers take their share.
    monkeypatch.setattr(build, "WORKER_START_COST", 0)
    spawned: list[int] = []
    real_executor = build.ProcessPoolExecutor

    def counting_executor(*args, **kwargs):
        spawned.append(kwargs["max_workers"])
        return real_executor(*args, **kwargs)

    monkeypatch.setattr(build, "ProcessPoolExecutor", counting_executor)
    spread = render_report(data, tmp_path / "spread", processes=3)
    assert spawned == [2]

    def without_timestamp(path: Path) -> str:
        return re.sub(r"Generated .* UTC", "", pdf_text(path))

    for part, pdf in in_process.all().items():
        other = spread.all()[part]
        assert other.path.parent == tmp_path / "spread" / DAY.isoformat()
        assert other.pages == pdf.pages
        assert without_timestamp(other.path) == without_timestamp(pdf.path)


# Rendering cost of each part (its users; the overview a fixed share).
PART_COSTS = {
    "overview": 300,
    "signed_up": 3000,
    "activated": 1500,
    "active": 3000,
    "inactive": 2500,
}


def test_parts_are_balanced_over_processes_by_user_count():
    costs = PART_COSTS
    groups = balance(costs, 2)
    totals = sorted(sum(costs[part] for part in group) for group in groups)
    assert totals == [4800, 5500]
    assert sorted(part for group in groups for part in group) == sorted(costs)


def test_workers_get_less_to_render_for_their_start_up_time():
    costs = PART_COSTS
    own, worker = balance(costs, 2, head_start=1500)
    assert sum(costs[part] for part in own) == 5800
    assert sum(costs[part] for part in worker) == 4500
