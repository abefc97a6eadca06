"""Prints the wire fuzzing figures (payloads tried, outcomes) at the end of a run.

Under pytest-xdist (`make test`) the fuzz tests run in a worker: it hands its figures to the
controller through `workeroutput`, and the controller prints them.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import pytest

FIGURES_KEY = "wire_fuzz_figures"
_from_workers: list[dict[str, Any]] = []


def _local_figures() -> dict[str, Any] | None:
    fuzz = sys.modules.get("analytics_pipeline_tests.events.test_wire_fuzz")
    if fuzz is None or not fuzz.TRIED:
        return None
    return {
        "tried": dict(fuzz.TRIED),
        "outcomes": dict(fuzz.OUTCOMES),
        "digests": {name: h.hexdigest()[:16] for name, h in fuzz.DIGESTS.items()},
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    figures = _local_figures()
    if workeroutput is not None and figures is not None:
        workeroutput[FIGURES_KEY] = figures


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    figures = getattr(node, "workeroutput", {}).get(FIGURES_KEY)
    if figures:
        _from_workers.append(figures)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = _local_figures() or (_from_workers[0] if _from_workers else None)
    if figures is None:
        return
    tried = ", ".join(f"{source} {count:,}" for source, count in figures["tried"].items())
    outcomes = ", ".join(
        f"{name} {count:,}" for name, count in Counter(figures["outcomes"]).most_common()
    )
    terminalreporter.write_sep("-", "wire fuzzing")
    terminalreporter.write_line(f"payloads tried: {sum(figures['tried'].values()):,} ({tried})")
    terminalreporter.write_line(f"outcomes: {outcomes}")
    digests = ", ".join(f"{name} {digest}" for name, digest in figures["digests"].items())
    terminalreporter.write_line(f"sha256 of {digests}")
