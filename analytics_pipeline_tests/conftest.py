"""Shared fixtures: each capability's fixtures live in analytics_pipeline_tests/fixtures/.

Scheduling for `make test`'s parallel part: each file stays on one worker, so its fixtures are
built once and its tests can read each other's figures. The files that start a Dagster daemon
(or the whole `make run` stack) go to one worker together, first in line, and run one at a time.
Three of them at once on 2 cores, each with its run workers, left runs waiting over two minutes
to start (`run_monitoring` then fails them).
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

pytest_plugins = [
    "analytics_pipeline_tests.fixtures.stack",
    "analytics_pipeline_tests.fixtures.kafka_cluster",
    "analytics_pipeline_tests.fixtures.slack",
    "analytics_pipeline_tests.fixtures.warehouse",
    "analytics_pipeline_tests.fixtures.workers",
    "analytics_pipeline_tests.fixtures.s3",
]

# A fixed list: xdist's scheduler sees node ids only, never the tests' fixtures. The check in
# pytest_collection_modifyitems keeps it complete.
DAEMON_FILES = frozenset(
    {
        "analytics_pipeline_tests/alerts/test_alerts_end_to_end.py",
        "analytics_pipeline_tests/devstack/test_config_precedence.py",
        "analytics_pipeline_tests/devstack/test_stack.py",
        "analytics_pipeline_tests/faults/test_celery_worker_kill.py",
        "analytics_pipeline_tests/faults/test_broker_killed.py",
        "analytics_pipeline_tests/faults/test_daemon_killed.py",
        "analytics_pipeline_tests/faults/test_make_run_ctrl_c.py",
        "analytics_pipeline_tests/faults/test_poison_burst.py",
        "analytics_pipeline_tests/faults/test_quiet_partition.py",
        "analytics_pipeline_tests/faults/test_run_worker_kill.py",
        "analytics_pipeline_tests/faults/test_stack_restarts.py",
        "analytics_pipeline_tests/ingest/test_end_to_end.py",
        "analytics_pipeline_tests/ingest/test_end_to_end_s3.py",
        "analytics_pipeline_tests/ingest/test_lake_readers.py",
    }
)


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class DaemonFilesTogether(LoadFileScheduling):
    """xdist's per-file scheduling, with every file of DAEMON_FILES in one unit of work."""

    def _split_scope(self, nodeid: str) -> str:
        file = _file_of(nodeid)
        return "daemon" if file in DAEMON_FILES else file


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    if config.getvalue("dist") != "loadfile":
        return None
    return DaemonFilesTogether(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unlisted = sorted(
        {
            _file_of(item.nodeid)
            for item in items
            if "dagster_daemon" in getattr(item, "fixturenames", ())
            and _file_of(item.nodeid) not in DAEMON_FILES
        }
    )
    if unlisted:
        raise pytest.UsageError(
            f"{', '.join(unlisted)} start a Dagster daemon: add them to DAEMON_FILES in "
            "analytics_pipeline_tests/conftest.py"
        )
    # First in line (with --no-loadscope-reorder): the daemon unit is the longest one.
    items.sort(key=lambda item: _file_of(item.nodeid) not in DAEMON_FILES)
