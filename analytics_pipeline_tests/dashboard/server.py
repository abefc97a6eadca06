"""A running `analytics-pipeline dashboard` for browser tests, and reading its pages.

The server runs on a free port in its own process group; `start_dashboard` returns once it
answers its health endpoint (bounded) and `stop` ends the group. Pages are read through the
DOM Streamlit renders: metrics (label -> value) and data frames (their accessible table).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics_pipeline_tests.fixtures.stack import VENV_BIN, wait_until

START_TIMEOUT_S = 60.0
RENDER_TIMEOUT_MS = 30_000
SCREENSHOTS_ENV = "DASHBOARD_SCREENSHOTS_DIR"


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_dashboard(env: Mapping[str, str], folder: Path, name: str = "dashboard") -> Dashboard:
    """`analytics-pipeline dashboard` on a free port with `env` over this environment."""
    port = free_port()
    log_path = folder / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "analytics-pipeline"), "dashboard", "--port", str(port)],
            cwd=folder,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    dashboard = Dashboard(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until(
            lambda: process.poll() is not None or _answers(dashboard.url),
            timeout=START_TIMEOUT_S,
            interval=0.2,
            message=f"the dashboard did not answer on {dashboard.url}",
        )
    except AssertionError:
        dashboard.stop()
        raise AssertionError(f"dashboard did not start:\n{dashboard.log_tail()}") from None
    if process.poll() is not None:
        raise AssertionError(f"dashboard exited with {process.returncode}:\n{dashboard.log_tail()}")
    return dashboard


# --- reading pages ---------------------------------------------------------------------------


def wait_rendered(page: Any) -> None:
    """Wait until the script run finished and the page's footer shows (a page that failed
    shows a message instead: wait for the run alone then)."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=RENDER_TIMEOUT_MS
    )


def open_page(page: Any, url: str) -> float:
    """Load `url` and wait for the page; returns the render time the page reports."""
    page.goto(url)
    wait_rendered(page)
    footer = page.get_by_text("Page rendered in")
    footer.wait_for(timeout=RENDER_TIMEOUT_MS)
    return float(footer.inner_text().split()[-2])


def metrics(page: Any, *labels: str) -> dict[str, str]:
    """Every metric on the page: label -> shown value, once those `labels` are drawn (the
    browser may still be drawing the page's elements after the footer arrived)."""
    for label in labels:
        page.locator('[data-testid="stMetricLabel"]', has_text=label).first.wait_for(
            timeout=RENDER_TIMEOUT_MS
        )
    found = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        found[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return found


_ROWS_JS = """el => [...el.querySelectorAll('tbody tr')].map(
    tr => [...tr.querySelectorAll('td')].map(td => td.textContent || ''))"""
_COLUMNS_JS = "el => [...el.querySelectorAll('thead th')].map(th => th.textContent || '')"


def _drawn(frame: Any) -> None:
    frame.scroll_into_view_if_needed(timeout=RENDER_TIMEOUT_MS)
    frame.locator("tbody tr td").first.wait_for(state="attached", timeout=RENDER_TIMEOUT_MS)


def frame_rows(frame: Any) -> list[list[str]]:
    """The rows of a (non-empty) st.dataframe, as the cell texts of its accessible table (read
    at one instant); the grid fills that table once it has drawn, in view."""
    _drawn(frame)
    return frame.evaluate(_ROWS_JS)


def frame_columns(frame: Any) -> list[str]:
    _drawn(frame)
    return frame.evaluate(_COLUMNS_JS)


def frame_with_column(page: Any, column: str) -> Any:
    """The data frame that has a column named `column`."""
    header = page.locator("thead th").get_by_text(column, exact=True)
    return page.locator('[data-testid="stDataFrame"]', has=header)


def screenshot(page: Any, name: str) -> None:
    """Save the whole page as <name>.png in DASHBOARD_SCREENSHOTS_DIR, when set (`make
    screenshots`). Streamlit scrolls inside its main block, so the viewport is made as tall as
    the content first (and set back afterwards)."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll("
        "'[data-testid=stMain], [data-testid=stAppViewContainer], [data-testid=stSidebar]')]"
        ".map(el => el.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(500)  # let the charts re-lay out at the new size (a picture only)
    page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)
