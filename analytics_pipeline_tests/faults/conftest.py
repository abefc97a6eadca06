"""Fault-suite fixtures: the whole pipeline through a real dagster-daemon, and what to count.

- `pipeline` (function): `pipeline(**env) -> Pipeline` starts a daemon on the test's own topics
  (one partition each) and lake, Slack unset (alerts are recorded `skipped`, nothing posted).
  `Pipeline` counts what the lake holds, finds the runs of these topics and their run worker
  processes (by the pid Dagster records when a run's process starts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
import psutil
import pytest

from analytics_pipeline.defs.ingest.sensors import IN_FLIGHT, TOPICS_TAG, topics_tag_values
from analytics_pipeline.warehouse import Lake, connect, reading
from analytics_pipeline_tests.fixtures.stack import DaemonHandle, wait_until

TS = "2026-11-20T10:00:00Z"


def page_view(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "page_view",
        "ts": TS,
        "anonymous_id": f"a-{event_id}",
        "page_url": "/",
        **extra,
    }


@dataclass
class Stored:
    """What the lake holds for the test's clickstream topic."""

    rows: int
    distinct_event_ids: int
    dead_letters: int
    distinct_dead_offsets: int
    ledger: int | None


@dataclass
class Pipeline:
    clickstream: str
    backend: str
    lake: Lake
    daemon: DaemonHandle
    instance: dg.DagsterInstance

    @property
    def topic_of(self) -> dict[str, str]:
        return {"clickstream": self.clickstream, "backend": self.backend}

    def runs(self, statuses: Iterable[dg.DagsterRunStatus] | None = None) -> list[dg.DagsterRun]:
        """Ingest runs of this test's topics (newest first)."""
        return list(
            self.instance.get_runs(
                dg.RunsFilter(
                    tags={TOPICS_TAG: topics_tag_values(self.topic_of)},
                    statuses=list(statuses) if statuses else None,
                )
            )
        )

    def in_flight(self) -> list[dg.DagsterRun]:
        return self.runs(IN_FLIGHT)

    def worker_pid(self, run_id: str) -> int | None:
        """The pid of the run's worker process, from Dagster's "Started process" event."""
        for record in self.instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            event = record.dagster_event
            if event and event.message and event.message.startswith("Started process for run"):
                pid = event.engine_event_data.metadata.get("pid")
                if pid is not None:
                    return int(pid.value)
        return None

    def stored(self) -> Stored:
        # One statement, so one snapshot: a commit between separate reads would show a ledger
        # ahead of the rows it stored.
        with reading(self.lake) as conn:
            try:
                row = conn.execute(
                    """
                    SELECT
                        (SELECT count(*) FROM raw_clickstream_events),
                        (SELECT count(DISTINCT event_id) FROM raw_clickstream_events),
                        (SELECT count(*) FROM dead_letter_events WHERE topic = $topic),
                        (SELECT count(DISTINCT kafka_offset) FROM dead_letter_events
                         WHERE topic = $topic),
                        (SELECT max(next_offset) FROM ingest_offsets WHERE topic = $topic)
                    """,
                    {"topic": self.clickstream},
                ).fetchone()
            except duckdb.CatalogException:  # no run has created the tables yet
                return Stored(0, 0, 0, 0, None)
        return Stored(*row)

    def wait_ledger(self, end: int, timeout: float) -> Stored:
        def reached() -> Stored | None:
            assert self.daemon.alive(), self.daemon.log_tail()
            stored = self.stored()
            return stored if stored.ledger is not None and stored.ledger >= end else None

        return wait_until(
            reached, timeout=timeout, interval=1, message=f"ledger of {self.clickstream} < {end}"
        )

    def wait_settled(self, timeout: float = 60) -> None:
        """No run of these topics queued or running (none stays STARTED, no slot held)."""
        wait_until(
            lambda: not self.in_flight(),
            timeout=timeout,
            interval=1,
            message=f"runs still in flight: {[(r.run_id, r.status) for r in self.in_flight()]}",
        )

    def failure_messages(self) -> list[str]:
        """Every run-failure and step-failure message of these topics' runs."""
        messages = []
        for run in self.runs([dg.DagsterRunStatus.FAILURE]):
            for record in self.instance.all_logs(run.run_id):
                event = record.dagster_event
                if event and event.event_type in (
                    dg.DagsterEventType.RUN_FAILURE,
                    dg.DagsterEventType.STEP_FAILURE,
                ):
                    messages.append(json.dumps(str(event.event_specific_data)))
                    messages.append(event.message or "")
        return messages


def peak_rss(pid: int, until: Callable[[], bool], interval: float = 0.05) -> int:
    """Sample a process's RSS until it exits or `until()` holds; the highest sample, bytes."""
    peak = 0
    try:
        process = psutil.Process(pid)
        while process.is_running() and not until():
            peak = max(peak, process.memory_info().rss)
            psutil.wait_procs([process], timeout=interval)
    except psutil.NoSuchProcess:
        pass
    return peak


@pytest.fixture
def pipeline(new_topics, lake, lake_env, dagster_daemon, dagster_instance, tmp_path):
    """`pipeline(**env) -> Pipeline`: a daemon on new topics and the test's lake."""
    clickstream, backend = new_topics(partitions=1)

    def start(**env: str) -> Pipeline:
        connect(lake).close()  # the lake and its tables exist before the first run
        daemon = dagster_daemon(
            {
                "ANALYTICS_CLICKSTREAM_TOPIC": clickstream,
                "ANALYTICS_BACKEND_TOPIC": backend,
                **lake_env,
                "ANALYTICS_REPORTS_DIR": str(tmp_path / "reports"),
                "SLACK_BOT_TOKEN": "",
                **env,
            }
        )
        return Pipeline(clickstream, backend, lake, daemon, dagster_instance)

    return start
