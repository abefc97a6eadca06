"""Fixtures of the multi-host test (cluster.py); a failing test's report shows each host's
process logs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from analytics_pipeline_tests.multihost.cluster import CLUSTER_KEY, multihost

__all__ = ["multihost"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    cluster = item.stash.get(CLUSTER_KEY, None)
    if report.failed and cluster is not None:
        for title, tail in cluster.log_tails():
            report.sections.append((title, tail))
