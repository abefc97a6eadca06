"""What the multi-host test counts: messages produced and stored, alerts in the lake and at the
Slack stub, and the host each run's process ran on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import duckdb

from analytics_pipeline.alerts.sender import ALERT_EVENT_TYPE
from analytics_pipeline.launcher.celery_launcher import recorded_run_worker
from analytics_pipeline.warehouse import Lake, reading
from analytics_pipeline_tests.multihost.brokers import Brokers
from analytics_pipeline_tests.multihost.network import Network

INGEST_TOPICS = ("portal-clickstream", "portal-backend")


@dataclass(frozen=True)
class Stored:
    rows: int  # valid events, both raw tables
    distinct_event_ids: int  # per table, summed
    dead_letters: int
    distinct_dead_offsets: int
    ledger: int  # sum of ingest_offsets.next_offset: messages consumed

    @property
    def total(self) -> int:
        return self.rows + self.dead_letters


def produced(brokers: Brokers) -> int:
    return sum(brokers.end_offsets(topic) for topic in INGEST_TOPICS)


def stored(lake: Lake) -> Stored:
    """One statement, so one snapshot."""
    with reading(lake) as conn:
        try:
            row = conn.execute(
                """
                SELECT
                    (SELECT count(*) FROM raw_clickstream_events)
                      + (SELECT count(*) FROM raw_backend_events),
                    (SELECT count(DISTINCT event_id) FROM raw_clickstream_events)
                      + (SELECT count(DISTINCT event_id) FROM raw_backend_events),
                    (SELECT count(*) FROM dead_letter_events),
                    (SELECT count(DISTINCT (topic, kafka_partition, kafka_offset))
                     FROM dead_letter_events),
                    (SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets)
                """
            ).fetchone()
        except duckdb.CatalogException:
            return Stored(0, 0, 0, 0, 0)
    return Stored(*row)


def lake_alerts(lake: Lake) -> dict[str, str]:
    """alert_key -> status."""
    with reading(lake) as conn:
        return dict(conn.execute("SELECT alert_key, status FROM alerts").fetchall())


def posted_alert_keys(messages: list[dict[str, Any]]) -> Counter[str]:
    """How many times each alert was posted (by the key in its message metadata)."""
    keys: Counter[str] = Counter()
    for message in messages:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == ALERT_EVENT_TYPE:
            keys[metadata["event_payload"]["alert_key"]] += 1
    return keys


def lake_files(lake: Lake) -> list[str]:
    """Every data and delete file the lake's current snapshot lists."""
    with reading(lake) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()
        ]
        files: list[str] = []
        for table in tables:
            for data, delete in conn.execute(
                "SELECT data_file, delete_file FROM ducklake_list_files(current_database(), $t)",
                {"t": table},
            ).fetchall():
                files += [path for path in (data, delete) if path]
    return files


@dataclass
class RunHosts:
    """The host of each run's process, from the pid its worker recorded in the run's event log
    and `ip netns identify`, looked up while that process is alive (`record()` often)."""

    net: Network
    instance: dg.DagsterInstance
    hosts: dict[str, str | None] = field(default_factory=dict)  # run id -> host
    workers: dict[str, str] = field(default_factory=dict)  # run id -> Celery node name

    def record(self) -> None:
        for run in self.instance.get_runs():
            if run.run_id in self.hosts:
                continue
            worker = recorded_run_worker(self.instance, run.run_id)
            if worker is None:
                continue  # not started yet, or never: see unplaced()
            host = self.net.host_of(worker.process.pid) if worker.process.alive() else None
            self.hosts[run.run_id] = host
            self.workers[run.run_id] = worker.nodename

    def never_started(self, run_id: str) -> bool:
        records = self.instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.RUN_START, limit=1
        ).records
        return not records

    def unplaced(self) -> list[str]:
        """Runs that started without a worker process we saw on a worker host (a run that
        never started, e.g. failed by run monitoring's start timeout, has no process)."""
        self.record()
        bad = []
        for run in self.instance.get_runs():
            if run.run_id not in self.hosts and self.never_started(run.run_id):
                continue
            host = self.hosts.get(run.run_id)
            if host not in ("worker1", "worker2"):
                bad.append(f"{run.run_id} {run.job_name} {run.status.value} host={host}")
        return bad
