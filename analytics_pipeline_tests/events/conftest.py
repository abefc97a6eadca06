"""Prints the wire fuzzing figures (payloads tried, outcomes) at the end of a run."""

from __future__ import annotations

import sys

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    fuzz = sys.modules.get("analytics_pipeline_tests.events.test_wire_fuzz")
    if fuzz is None or not fuzz.TRIED:
        return
    tried = ", ".join(f"{source} {count:,}" for source, count in fuzz.TRIED.items())
    outcomes = ", ".join(f"{name} {count:,}" for name, count in fuzz.OUTCOMES.most_common())
    terminalreporter.write_sep("-", "wire fuzzing")
    terminalreporter.write_line(f"payloads tried: {sum(fuzz.TRIED.values()):,} ({tried})")
    terminalreporter.write_line(f"outcomes: {outcomes}")
    digests = ", ".join(f"{name} {h.hexdigest()[:16]}" for name, h in fuzz.DIGESTS.items())
    terminalreporter.write_line(f"sha256 of {digests}")
