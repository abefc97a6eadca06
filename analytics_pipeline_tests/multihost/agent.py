"""The multi-host test's hands on the `client` host: one long-lived process started there
(`ip netns exec <tag>-client python -m analytics_pipeline_tests.multihost.agent`), which does
every network call the test makes (readiness of the store, the brokers and the workers, the
topics, the lake, Kafka offsets, the Slack stub, the Dagster instance) and answers on stdout.

Why a process and not a thread of pytest: a network namespace belongs to a thread (setns), and
the pytest process keeps threads made before the test (DuckDB's instance and its scheduler
threads are one per process and may come from an earlier test of the same xdist worker): a
connection from one of those went out of the machine's own namespace, where 10.231.7.10 is
not local (the fresh-clone CI saw an HTTP answer from PostgreSQL's address). Every thread of
this process is on `client`, so nothing it opens can be elsewhere.

Protocol: one JSON object a line. Request `{"op": NAME, "args": [...]}`; answer `{"ok": VALUE}`
or `{"error": "Type: message"}`. Output of the libraries goes to stderr (the agent's log); the
answers go to the stdout the agent was started with. The test's side is `Agent` below.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from analytics_pipeline_tests.multihost.network import Network

CALL_TIMEOUT_S = 120.0  # the first call waits for the agent's imports, on a loaded machine


# --- the agent, on `client` ----------------------------------------------------------------


class Operations:
    """What the test asks the client host to do; configured by its environment (the cluster's
    `env()` plus MULTIHOST_SLACK_URL)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        from analytics_pipeline.settings import load_settings
        from analytics_pipeline.warehouse import Lake

        self.env = env
        self.lake = Lake.from_settings(load_settings(env))
        self.bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
        self._instance: Any = None
        self._consumer: Any = None

    @property
    def instance(self) -> Any:
        if self._instance is None:
            import dagster as dg

            self._instance = dg.DagsterInstance.from_config(self.env["DAGSTER_HOME"])
        return self._instance

    # readiness and set-up

    def loopback_open(self, ports: list[int]) -> list[int]:
        """The ports that accept a connection on this host's loopback."""
        opened = []
        for port in ports:
            with socket.socket() as probe:
                probe.settimeout(2)
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    opened.append(port)
        return opened

    def pg_databases(self, databases: list[str]) -> bool:
        """PostgreSQL answers; `databases` exist (created if not), the lake's in English."""
        import psycopg2

        conn = psycopg2.connect(
            host=self.env["DAGSTER_PG_HOST"],
            port=int(self.env["DAGSTER_PG_PORT"]),
            user=self.env["DAGSTER_PG_USERNAME"],
            password=self.env["DAGSTER_PG_PASSWORD"],
            dbname="postgres",
            connect_timeout=5,
        )
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                for db in databases:
                    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
                    if not cursor.fetchone():
                        cursor.execute(f'CREATE DATABASE "{db}"')
                cursor.execute("ALTER DATABASE analytics_lake SET lc_messages = 'C'")
        finally:
            conn.close()
        return True

    def redis_pong(self) -> bool:
        url = urlparse(self.env["DAGSTER_CELERY_BROKER_URL"])
        with socket.create_connection((url.hostname, url.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def _slack(self) -> Any:
        from analytics_pipeline_tests.fixtures.slack import STUB_TOKEN, SlackStub

        return SlackStub(self.env["MULTIHOST_SLACK_URL"], STUB_TOKEN, Path("/nonexistent"))

    def slack_health(self) -> bool:
        return bool(self._slack().health())

    def bucket_writable(self) -> bool:
        """The lake's bucket answers a listing, a write and a read with the lake's keys (a
        listing alone answers before the volume server has registered, and writes fail
        until it has)."""
        import duckdb

        from analytics_pipeline.warehouse import object_store
        from analytics_pipeline.warehouse.lake import S3_EXTENSIONS, load_extensions

        conn = duckdb.connect(config={"autoinstall_known_extensions": False})
        try:
            load_extensions(conn, S3_EXTENSIONS)
            bucket = urlparse(self.lake.data_path).netloc
            url = f"s3://{bucket}/"
            conn.execute(object_store.secret_sql("multihost_check", self.lake.s3, url))
            object_store.probe(conn, url)
            probe = f"{url}multihost-ready.csv"
            conn.execute(f"COPY (SELECT 42 AS answer) TO '{probe}' (FORMAT csv, HEADER)")
            (answer,) = conn.execute(f"SELECT answer FROM read_csv('{probe}')").fetchone()
        finally:
            conn.close()
        return answer == 42

    def _admin(self) -> Any:
        from kafka.admin import KafkaAdminClient

        return KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id="multihost-admin",
            request_timeout_ms=10_000,
        )

    def brokers_listed(self) -> int:
        admin = self._admin()
        try:
            return len(admin.describe_cluster()["brokers"])
        finally:
            admin.close()

    def make_topics(self, names: list[str], partitions: int) -> None:
        """Topics with 3 replicas, 2 of which must hold a message: one broker may die."""
        from kafka.admin import NewTopic

        topics = [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=3,
                topic_configs={"min.insync.replicas": "2"},
            )
            for name in names
        ]
        admin = self._admin()
        try:
            admin.create_topics(topics, timeout_ms=30_000)
        finally:
            admin.close()

    def worker_answers(self, nodename: str) -> bool:
        from analytics_pipeline_tests.fixtures.workers import worker_answers

        return worker_answers(self.env["DAGSTER_CELERY_BROKER_URL"], nodename)

    def connect_lake(self) -> None:
        """The lake's tables, on S3, before the first run."""
        from analytics_pipeline.warehouse import connect

        connect(self.lake).close()

    # what the test counts

    def produced(self, topics: list[str]) -> int:
        """How many messages the topics hold (their partitions' end offsets, summed)."""
        from kafka import KafkaConsumer, TopicPartition

        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap, client_id="multihost-count"
            )
        total = 0
        for topic in topics:
            ids = self._consumer.partitions_for_topic(topic) or ()
            partitions = [TopicPartition(topic, p) for p in ids]
            total += sum(self._consumer.end_offsets(partitions).values())
        return total

    def stored(self) -> list[int]:
        """Rows, distinct event ids, dead letters, distinct dead offsets, ledger: one
        statement, so one snapshot (zeros before the tables exist)."""
        import duckdb

        from analytics_pipeline.warehouse import reading

        with reading(self.lake) as conn:
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
                return [0, 0, 0, 0, 0]
        return [int(value) for value in row]

    def lake_alerts(self) -> dict[str, str]:
        """alert_key -> status."""
        from analytics_pipeline.warehouse import reading

        with reading(self.lake) as conn:
            return dict(conn.execute("SELECT alert_key, status FROM alerts").fetchall())

    def posted_alert_keys(self, channel: str) -> dict[str, int]:
        """How many times each alert was posted to `channel` (by its message metadata)."""
        from analytics_pipeline.alerts.sender import ALERT_EVENT_TYPE

        keys: dict[str, int] = {}
        for message in self._slack().messages(channel):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == ALERT_EVENT_TYPE:
                key = metadata["event_payload"]["alert_key"]
                keys[key] = keys.get(key, 0) + 1
        return keys

    def lake_files(self) -> list[str]:
        """Every data and delete file the lake's current snapshot lists."""
        from analytics_pipeline.warehouse import reading

        with reading(self.lake) as conn:
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT table_name FROM duckdb_tables() "
                    "WHERE database_name = current_database()"
                ).fetchall()
            ]
            files: list[str] = []
            for table in tables:
                for data, delete in conn.execute(
                    "SELECT data_file, delete_file "
                    "FROM ducklake_list_files(current_database(), $t)",
                    {"t": table},
                ).fetchall():
                    files += [path for path in (data, delete) if path]
        return files

    def runs(self, statuses: list[str] | None = None) -> list[dict[str, str]]:
        import dagster as dg

        filters = None
        if statuses is not None:
            filters = dg.RunsFilter(statuses=[dg.DagsterRunStatus(s) for s in statuses])
        return [
            {"run_id": run.run_id, "job_name": run.job_name, "status": run.status.value}
            for run in self.instance.get_runs(filters)
        ]

    def run_worker(self, run_id: str) -> dict[str, Any] | None:
        """The worker a run's event log names, and its pool process (pid, alive now)."""
        from analytics_pipeline.launcher.celery_launcher import recorded_run_worker

        worker = recorded_run_worker(self.instance, run_id)
        if worker is None:
            return None
        alive = worker.process.alive()
        return {"nodename": worker.nodename, "pid": worker.process.pid, "alive": alive}

    def never_started(self, run_id: str) -> bool:
        import dagster as dg

        records = self.instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.RUN_START, limit=1
        ).records
        return not records

    def run_record(self, run_id: str) -> dict[str, Any] | None:
        record = self.instance.get_run_record_by_id(run_id)
        if record is None:
            return None
        run = record.dagster_run
        return {
            "status": run.status.value,
            "finished": run.is_finished,
            "end_time": record.end_time,
            "tags": dict(run.tags),
        }


def serve() -> None:
    """Answer requests from stdin until it closes."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to the log
    sys.stdout = sys.stderr
    operations = Operations(os.environ)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            value = getattr(operations, request["op"])(*request.get("args", []))
            answer = {"ok": value}
        except Exception as error:
            print(f"{request['op']} failed:\n{traceback.format_exc()}", file=sys.stderr)
            answer = {"error": f"{type(error).__name__}: {error}"}
        answers.write(json.dumps(answer, default=str) + "\n")


# --- the test's side -----------------------------------------------------------------------


class AgentError(RuntimeError):
    """An operation failed on the client host (a service not up yet, often)."""


@dataclass
class Agent:
    """The agent process on `host`; `call(op, *args)` returns its answer. A call that gets
    no answer within its timeout kills the agent (its state is unknown), so every later call
    and `check()` fail at once."""

    net: Network
    logs: Path
    env: Mapping[str, str]
    host: str = "client"
    process: subprocess.Popen[str] | None = None
    _answers: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @property
    def name(self) -> str:
        return "agent"

    @property
    def log(self) -> Path:
        return self.logs / "agent.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        from analytics_pipeline_tests.fixtures.stack import VENV_BIN, terminate_with_parent

        argv = [str(VENV_BIN / "python"), "-m", "analytics_pipeline_tests.multihost.agent"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.net.command(self.host, argv),
                cwd=Path(__file__).resolve().parents[2],
                env={**os.environ, **self.env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
                preexec_fn=terminate_with_parent,
            )
        # Reads a pipe only: this thread opens no socket.
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._answers.put(line)
        self._answers.put(None)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check(self) -> None:
        """Fail now, with its log, if the agent has exited."""
        if not self.alive():
            code = self.process.returncode if self.process else None
            raise AssertionError(f"the agent on {self.host} exited ({code}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def call(self, op: str, *args: Any, timeout: float = CALL_TIMEOUT_S) -> Any:
        """`op(*args)` on the client host; AgentError if it raised there."""
        self.check()
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
        self.process.stdin.flush()
        began = time.monotonic()
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise AssertionError(
                f"the agent gave no answer to {op} in {time.monotonic() - began:.0f} s (killed it)"
            ) from None
        if line is None:
            self.check()
            raise AssertionError(f"the agent closed its output during {op}")
        answer = json.loads(line)
        if "error" in answer:
            raise AgentError(f"{op}: {answer['error']}")
        return answer["ok"]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


if __name__ == "__main__":
    serve()
