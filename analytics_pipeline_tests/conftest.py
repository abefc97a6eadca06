"""Shared fixtures: each capability's fixtures live in analytics_pipeline_tests/fixtures/.

Scheduling for `make test`'s parallel part: each file stays on one worker, so its fixtures are
built once and its tests can read each other's figures. The files that start a Dagster daemon
(or the whole `make run` stack) form two groups, first in line, each on one worker and one
file at a time, so two daemons run at once. Three of them at once on 2 cores, each with its run
workers, left runs waiting over two minutes to start (`run_monitoring` then fails them).
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

# A fixed table: xdist's scheduler sees node ids only, never the tests' fixtures. The check in
# pytest_collection_modifyitems keeps it complete. Two groups, each one unit of work on its own
# worker, so two daemons run at a time (three at once on 2 cores starved their runs): the
# heaviest ones (the broker cluster, the Celery worker) share a group so they never overlap,
# and the groups' wall times in a full run were about equal (docs/test-profile.md).
DAEMON_GROUPS = {
    "analytics_pipeline_tests/faults/test_broker_killed.py": "daemon-1",
    "analytics_pipeline_tests/faults/test_celery_worker_kill.py": "daemon-1",
    "analytics_pipeline_tests/faults/test_daemon_killed.py": "daemon-1",
    "analytics_pipeline_tests/ingest/test_end_to_end.py": "daemon-1",
    "analytics_pipeline_tests/ingest/test_end_to_end_s3.py": "daemon-1",
    "analytics_pipeline_tests/devstack/test_stack.py": "daemon-1",
    # Shares no service, port or database with any test (all on its own hosts), but runs a
    # daemon with run workers and three brokers: with the other broker cluster and Celery
    # tests, so it never overlaps them.
    "analytics_pipeline_tests/multihost/test_multihost.py": "daemon-1",
    "analytics_pipeline_tests/ingest/test_lake_readers.py": "daemon-2",
    "analytics_pipeline_tests/alerts/test_alerts_end_to_end.py": "daemon-2",
    "analytics_pipeline_tests/faults/test_quiet_partition.py": "daemon-2",
    "analytics_pipeline_tests/faults/test_run_worker_kill.py": "daemon-2",
    "analytics_pipeline_tests/devstack/test_config_precedence.py": "daemon-2",
    "analytics_pipeline_tests/faults/test_make_run_ctrl_c.py": "daemon-2",
    # serial ones (they run alone after the parallel part; listed for the check below)
    "analytics_pipeline_tests/faults/test_poison_burst.py": "daemon-1",
    "analytics_pipeline_tests/faults/test_stack_restarts.py": "daemon-2",
}
DAEMON_FILES = frozenset(DAEMON_GROUPS)


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class DaemonFilesTogether(LoadFileScheduling):
    """xdist's per-file scheduling, with the files of each DAEMON_GROUPS group in one unit."""

    def _split_scope(self, nodeid: str) -> str:
        file = _file_of(nodeid)
        return DAEMON_GROUPS.get(file, file)


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
            f"{', '.join(unlisted)} start a Dagster daemon: add them to a group of "
            "DAEMON_GROUPS in analytics_pipeline_tests/conftest.py"
        )
    # First in line (with --no-loadscope-reorder): the daemon units are the longest ones.
    items.sort(key=lambda item: _file_of(item.nodeid) not in DAEMON_FILES)
