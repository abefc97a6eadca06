"""Alert latency: from producing a sign-up to Kafka to the Slack stub receiving its message.

Usage (after `make up`):
    .venv/bin/python bench/alerts/bench_alerts.py [--signups 50] [--mean-gap 4] [--sim-rate 5]
        [--module analytics_pipeline.definitions] [--label shipped]

Everything is real and private to the run: fresh topics (3 partitions each), a fresh lake
(its own catalog database and data folder), a fresh PostgreSQL database for the Dagster
instance (the repository's dagster.yaml), its own Slack stub, and `dagster-daemon run` with
the shipped sensors. The simulator runs in live mode on the same topics as background
traffic. After a warm-up sign-up, `--signups` sign-ups are produced at random moments
(exponential gaps, mean `--mean-gap` s) and the time until each one's message reaches the
stub is measured, then split into stages from the
Dagster run records and the outbox's timestamps:

  ingest sensor                 produce -> ingest run created (the ingest sensor's tick)
  queue + run start             run created -> started (queue behind other runs in the
                                `ingest` pool, then the run worker's start-up)
  ingest, journeys, rules       run started -> alert stored in the outbox
  post in the same run          alert stored -> stub received (the quick post), or else
  send sensor + send run start  alert stored -> send_alerts run started, and
  send run work                 send run started -> stub received

**The floor** (issue 12) runs in the same benchmark run, in a daemon of its own with the same
dagster.yaml (its own database, so its runs do not queue behind ours): `floor_location.py`, a
tiny code location with a stock sensor (a plain end_offsets check each tick, no long poll)
that launches a one-op job posting one message to the stub for every message landing on a
topic of its own. After the sign-ups, as many floor messages are produced at random moments
(same gaps, the simulator still running; the two streams do not overlap, so neither one's runs
take CPU or run slots from the other's), and their produce -> stub times are reported beside
ours, split the same way:

  tick            produce -> run created
  queue           run created -> run starting (the run coordinator's dequeue)
  launch          run starting -> started (the run worker's process and imports)
  steps           run started -> alert stored (ours) / op done (the floor, its post included)
  post            alert stored -> stub received (ours)

Each sign-up's produce -> stored time (its raw row visible to a reader of the lake) is measured
too. `--load` runs, during the measurement, a reader process with slow queries on the lake and
a 90-day funnel backfill (`dagster asset materialize`, over and over), to show that readers and
long jobs do not slow the stream (issue 9: loaded p95 <= 1.25x unloaded).

`--module` runs a different Definitions module (a file in bench/alerts/ or a dotted module
path) to measure what a change would buy.
Prints a Markdown summary and writes it into the "latest run" block of
bench/alerts/RESULTS.md (the analysis around it is hand-written).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV_BIN = REPO / ".venv" / "bin"
TOKEN = "xoxb-bench-token"
STAGES = (
    "live tail: produce -> alert stored",
    "tick",
    "queue",
    "launch",
    "ingest, journeys, rules",
    "post in the same run",
    "send sensor + send run start",
    "send run work",
)
FLOOR_STAGES = ("tick", "queue", "launch", "op and its post")


def dotenv(path: Path = REPO / ".env.example") -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip().strip("'\"")
    return values


def setting(name: str) -> str:
    return os.environ.get(name) or dotenv()[name]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# -- the private stack -----------------------------------------------------------------


def pg_connect(dbname: str) -> Any:
    import psycopg2

    conn = psycopg2.connect(
        host=setting("DAGSTER_PG_HOST"),
        port=int(setting("DAGSTER_PG_PORT")),
        user=setting("DAGSTER_PG_USERNAME"),
        password=setting("DAGSTER_PG_PASSWORD"),
        dbname=dbname,
        connect_timeout=10,
    )
    conn.autocommit = True
    return conn


ADMIN_DB = setting("DAGSTER_PG_DB")  # read before the bench points DAGSTER_PG_DB elsewhere


def pg_execute(statement: str) -> None:
    with closing(pg_connect(ADMIN_DB)) as conn, conn.cursor() as cursor:
        cursor.execute(statement)


def create_topics(names: list[str]) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=setting("KAFKA_BOOTSTRAP_SERVERS"))
    try:
        admin.create_topics([NewTopic(n, 3, 1) for n in names])
    finally:
        admin.close()


def delete_topics(names: list[str]) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=setting("KAFKA_BOOTSTRAP_SERVERS"))
    try:
        admin.delete_topics(names)
    except Exception as error:  # best effort clean-up
        print(f"could not delete topics {names}: {error}", file=sys.stderr)
    finally:
        admin.close()


def start_stub(data_dir: Path) -> tuple[subprocess.Popen, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            str(REPO / "devstack" / "slack_stub.py"),
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--quiet",
        ],
        env={**os.environ, "SLACK_BOT_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=(data_dir / "stub.log").open("ab"),
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on " not in line:
        raise SystemExit(f"the Slack stub did not start: {line!r}")
    return process, line.split("listening on ", 1)[1].split()[0].rstrip("/")


def stub_messages(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/_stub/messages", timeout=10) as response:
        return json.loads(response.read())["messages"]


def spawn(
    command: list[str], env: dict[str, str], log_path: Path, cwd: Path, preexec_fn: Any = None
) -> subprocess.Popen:
    """A background process in its own group (so `stop_group` stops its children), output to
    `log_path`. The cwd is the work dir: Dagster's CLI would load the repository's .env."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )


def service_seconds() -> dict[str, float]:
    """CPU-seconds so far of the stack's Kafka brokers and PostgreSQL (every process of each)."""
    import psutil
    from cpu_meter import process_seconds

    totals = {"kafka": 0.0, "postgresql": 0.0}
    for process in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        kind = (
            "kafka"
            if "kafka.Kafka" in command
            else "postgresql"
            if process.info["name"] == "postgres"
            else None
        )
        if kind:
            with suppress(OSError, ValueError):
                totals[kind] += process_seconds(process.pid)
    return totals


def runs_in_flight(database: str) -> int:
    """Runs of the benchmark's instance that are queued or running."""
    with closing(pg_connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM runs WHERE status IN "
            "('NOT_STARTED', 'QUEUED', 'STARTING', 'STARTED', 'CANCELING')"
        )
        return cursor.fetchone()[0]


@dataclass
class CpuPhase:
    """CPU-seconds per minute of the pipeline (daemon, code server, run workers) and the stack."""

    name: str
    seconds: float = 0.0
    pipeline: float = 0.0
    services: dict[str, float] = field(default_factory=dict)

    def per_minute(self) -> dict[str, float]:
        minutes = self.seconds / 60
        return {
            "pipeline": self.pipeline / minutes,
            **{k: v / minutes for k, v in self.services.items()},
        }


def measure_cpu(meter: Any, name: str, during: Any) -> CpuPhase:
    """Run `during()` and return what the pipeline and the services used meanwhile."""
    started, pipeline, services = time.monotonic(), meter.seconds(), service_seconds()
    during()
    after = service_seconds()
    return CpuPhase(
        name,
        seconds=time.monotonic() - started,
        pipeline=meter.seconds() - pipeline,
        services={k: after[k] - services[k] for k in services},
    )


def stop_group(process: subprocess.Popen, grace_s: float = 20) -> None:
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


READER = """
import sys, time
from analytics_pipeline.settings import load_settings
from analytics_pipeline.warehouse import Lake, reading
with reading(Lake.from_settings(load_settings())) as conn:
    while True:
        conn.execute(
            "SELECT count(DISTINCT hash(e.event_id || i)) FROM journey_events AS e, range(200) t(i)"
        ).fetchall()
"""


def start_load(env: dict[str, str], work: Path) -> list[subprocess.Popen]:
    """A reader with a query that runs for seconds, over and over, and 90-day backfills."""
    reader = subprocess.Popen(
        [str(VENV_BIN / "python"), "-c", READER],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=(work / "reader.log").open("wb"),
        start_new_session=True,
    )
    backfills = spawn(
        [
            "bash",
            "-c",
            "while true; do "
            f"{VENV_BIN / 'dagster'} asset materialize -m analytics_pipeline.definitions "
            "--select users_by_activation_stage,funnel_daily "
            "--partition-range 2026-08-01...2026-10-29; done",
        ],
        env,
        work / "backfills.log",
        work,
    )
    return [reader, backfills]


class StoredWatcher:
    """Polls the lake as a reader would and notes when each sign-up's raw row is visible."""

    def __init__(self, lake: Any, signups: list[Signup]) -> None:
        import threading

        self.lake, self.signups = lake, signups
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from analytics_pipeline.warehouse import reading

        with reading(self.lake) as conn:
            while not self._stop.is_set():
                waiting = {s.event_id: s for s in list(self.signups) if s.stored_at is None}
                if waiting:
                    rows = conn.execute(
                        "SELECT event_id FROM raw_backend_events "
                        "WHERE list_contains($ids, event_id)",
                        {"ids": list(waiting)},
                    ).fetchall()
                    now = time.time()
                    for (event_id,) in rows:
                        waiting[event_id].stored_at = now
                time.sleep(0.1)

    def wait_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(s.stored_at is None for s in self.signups):
            time.sleep(0.2)
        self._stop.set()
        self._thread.join(timeout=10)


class JourneyWatcher:
    """Reads the journey topic as a read_committed consumer and notes when each sign-up's
    `signed_up` action arrives (produce -> journey topic, beside produce -> Slack)."""

    def __init__(self, topic: str, signups: list[Signup]) -> None:
        import threading

        self.topic, self.signups = topic, signups
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            self.topic,
            bootstrap_servers=setting("KAFKA_BOOTSTRAP_SERVERS"),
            group_id=None,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        try:
            while not self._stop.is_set():
                for batch in consumer.poll(timeout_ms=100).values():
                    now = time.time()
                    by_event = {s.event_id: s for s in list(self.signups)}
                    for record in batch:
                        value = json.loads(record.value)
                        signup = by_event.get(value.get("source_event_id"))
                        if signup is not None and signup.streamed_at is None:
                            signup.streamed_at = now
        finally:
            consumer.close()

    def wait_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(s.streamed_at is None for s in self.signups):
            time.sleep(0.2)
        self._stop.set()
        self._thread.join(timeout=10)


# -- measuring -------------------------------------------------------------------------


@dataclass
class Signup:
    user: str
    produced_at: float  # just before producer.send
    event_id: str = ""
    stored_at: float | None = None  # its raw row was visible to a reader of the lake
    streamed_at: float | None = None  # its action reached the journey topic (read_committed)
    acked_at: float = 0.0
    received_at: float | None = None  # the stub stored the message
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def latency(self) -> float | None:
        return None if self.received_at is None else self.received_at - self.produced_at


def signup_value(user: str, event_id: str) -> bytes:
    event = {
        "event_id": event_id,
        "type": "api_request",
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "user_id": user,
        "request": {"method": "POST", "path": "/auth/signup", "status": 201, "duration_ms": 9},
    }
    return json.dumps(event).encode("utf-8")


def wait_for(predicate: Any, timeout: float, what: str, daemon: subprocess.Popen, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"dagster-daemon exited while waiting for {what}; see {log}")
        if "Error while importing code" in log.read_text(errors="replace"):
            raise SystemExit(f"the code location failed to load; see {log}")
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def received(url: str, users: set[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    for message in stub_messages(url):
        for user in users:
            if f"`{user}`" in message["text"]:
                found.setdefault(user, message["received_at"])
    return found


@dataclass
class RunTimes:
    created: float
    starting: float  # dequeued: the run launcher was called
    started: float  # the run worker reported RUN_START
    ended: float
    run_key: str


def run_times(instance: Any, runs_filter: Any) -> list[RunTimes]:
    from dagster import DagsterEventType

    out = []
    for r in instance.get_run_records(runs_filter):
        if r.start_time is None or r.end_time is None:
            continue
        created = r.create_timestamp
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        starting = [
            e.timestamp
            for e in instance.all_logs(r.dagster_run.run_id, of_type=DagsterEventType.RUN_STARTING)
        ]
        out.append(
            RunTimes(
                created=created.timestamp(),
                starting=min(starting) if starting else r.start_time,
                started=r.start_time,
                ended=r.end_time,
                run_key=r.dagster_run.tags.get("dagster/run_key", ""),
            )
        )
    return out


def breakdown(
    signups: list[Signup], floors: list[Signup], floor_home: Path, floor_database: str, lake: Any
) -> None:
    """Fill each message's stages from run records and the outbox (after the daemon stopped)."""
    from dagster import DagsterInstance, RunsFilter

    from analytics_pipeline.warehouse import reading

    with reading(lake) as conn:
        rows = conn.execute(
            "SELECT user_id, epoch_us(created_at) / 1e6, epoch_us(sent_at) / 1e6 FROM alerts "
            "WHERE rule = 'new_signup'"
        ).fetchall()
    outbox = {user: (created, sent) for user, created, sent in rows}
    instance = DagsterInstance.get()
    try:
        ingest_runs = run_times(instance, RunsFilter(tags={"analytics/ingest": "true"}))
        send_runs = run_times(instance, RunsFilter(job_name="send_alerts"))
    finally:
        instance.dispose()
    ours_database = os.environ["DAGSTER_PG_DB"]
    os.environ["DAGSTER_PG_DB"] = floor_database  # the floor's instance, same dagster.yaml
    floor_instance = DagsterInstance.from_config(str(floor_home))
    try:
        floor_runs = {
            r.run_key: r for r in run_times(floor_instance, RunsFilter(job_name="floor_post"))
        }
    finally:
        floor_instance.dispose()
        os.environ["DAGSTER_PG_DB"] = ours_database

    def run_around(runs: list[RunTimes], at: float) -> RunTimes | None:
        inside = [r for r in runs if r.started - 0.5 <= at <= r.ended + 0.5]
        return min(inside, key=lambda r: r.started) if inside else None

    def start_stages(run: RunTimes, produced_at: float) -> dict[str, float]:
        return {
            "tick": run.created - produced_at,
            "queue": run.starting - run.created,
            "launch": run.started - run.starting,
        }

    for s in signups:
        if s.user not in outbox or s.received_at is None:
            continue
        created, sent = outbox[s.user]
        ingest = run_around(ingest_runs, created)
        if ingest is None:
            continue
        if ingest.started < s.produced_at:  # taken by that run's live tail
            s.stages = {"live tail: produce -> alert stored": created - s.produced_at}
        else:
            s.stages = {
                **start_stages(ingest, s.produced_at),
                "ingest, journeys, rules": created - ingest.started,
            }
        send = run_around(send_runs, sent) if sent else None
        if send is None:  # posted by the rules' own run
            s.stages["post in the same run"] = s.received_at - created
        else:
            s.stages["send sensor + send run start"] = send.started - created
            s.stages["send run work"] = s.received_at - send.started
    for f in floors:
        run = floor_runs.get(f.user.removeprefix("floor-").replace("-", ":"))
        if run is not None and f.received_at is not None:
            f.stages = {
                **start_stages(run, f.produced_at),
                "op and its post": f.received_at - run.started,
            }


def slack_call_seconds(api_url: str, calls: int = 50) -> float:
    """Median duration of one chat.postMessage to the stub through the product's client."""
    sys.path.insert(0, str(REPO))
    from analytics_pipeline.resources.slack import SlackResource

    client = SlackResource(bot_token=TOKEN, api_url=api_url).client()
    durations = []
    for i in range(calls):
        started = time.perf_counter()
        client.chat_postMessage(channel="#bench-calls", text=f"call {i}")
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


# -- main ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signups", type=int, default=50)
    parser.add_argument("--mean-gap", type=float, default=4.0, help="mean seconds between")
    parser.add_argument("--sim-rate", type=float, default=5.0, help="simulator events/s (0: off)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--module", default="analytics_pipeline.definitions")
    parser.add_argument("--label", default="shipped settings")
    parser.add_argument(
        "--pool-granularity",
        choices=["run", "op"],
        help="override dagster.yaml's concurrency.pools.granularity (what a change would buy)",
    )
    parser.add_argument("--timeout", type=float, default=300, help="wait after the last one")
    parser.add_argument(
        "--no-floor", dest="floor", action="store_false", help="skip the floor's phase"
    )
    parser.add_argument(
        "--managed-code-server",
        dest="code_server",
        action="store_false",
        help="let the daemon start (and every 60 s replace) its own code server, as "
        "`dagster-daemon run -w workspace.yaml` does, instead of a long-lived `dagster "
        "code-server start` as `dagster dev` and Dagster's Helm chart run it",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=120,
        help="after the sign-ups, once no run is in flight, measure the CPU of this long idle "
        "(0: skip; meaningful with --sim-rate 0)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir and database")
    parser.add_argument(
        "--load",
        action="store_true",
        help="run a slow reader and repeated 90-day funnel backfills beside the stream",
    )
    parser.add_argument(
        "--no-write-results",
        dest="write_results",
        action="store_false",
        help="do not update the 'latest run' block of bench/alerts/RESULTS.md",
    )
    args = parser.parse_args()

    load_before = os.getloadavg()
    run_id = uuid.uuid4().hex[:8]
    work = REPO / "bench" / ".work" / f"alerts-{run_id}"
    work.mkdir(parents=True)
    dagster_home = work / "dagster_home"
    dagster_home.mkdir()
    instance_yaml = (REPO / "dagster.yaml").read_text(encoding="utf-8")
    if args.pool_granularity:
        instance_yaml = instance_yaml.replace(
            "granularity: run", f"granularity: {args.pool_granularity}"
        )
    (dagster_home / "dagster.yaml").write_text(instance_yaml, encoding="utf-8")
    database = f"dagster_bench_{run_id}"
    topics = [f"bench-alerts-{run_id}-clickstream", f"bench-alerts-{run_id}-backend"]
    floor_topic = f"bench-alerts-{run_id}-floor"
    journey_topic = f"bench-alerts-{run_id}-journeys"  # the journey stream (SPEC §10)
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(REPO))
    from cpu_meter import CpuMeter
    from scratch_lake import scratch_lake

    from analytics_pipeline_tests.fixtures.warehouse import lake_environment

    lake_context = scratch_lake("bench_alerts")
    lake = lake_context.__enter__()
    code_dir = HERE if "." not in args.module else REPO
    socket = work / "code.sock"
    (work / "workspace.yaml").write_text(
        (
            f"load_from:\n  - grpc_server:\n      socket: {socket}\n"
            if args.code_server
            else "load_from:\n  - python_module:\n"
            f"      module_name: {args.module}\n"
            f"      working_directory: {code_dir}\n"
        )
        + "      location_name: analytics_pipeline\n",
        encoding="utf-8",
    )
    floor_home = work / "floor_home"
    floor_home.mkdir()
    (floor_home / "dagster.yaml").write_text(instance_yaml, encoding="utf-8")
    (work / "floor_workspace.yaml").write_text(
        "load_from:\n  - python_file:\n"
        f"      relative_path: {HERE / 'floor_location.py'}\n"
        "      location_name: floor\n",
        encoding="utf-8",
    )
    floor_database = f"{database}_floor"

    pg_execute(f'CREATE DATABASE "{database}"')
    pg_execute(f'CREATE DATABASE "{floor_database}"')
    create_topics([*topics, floor_topic, journey_topic])
    stub, stub_url = start_stub(work / "slack")
    env = {
        **os.environ,
        "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_HOST": setting("DAGSTER_PG_HOST"),
        "DAGSTER_PG_PORT": setting("DAGSTER_PG_PORT"),
        "DAGSTER_PG_USERNAME": setting("DAGSTER_PG_USERNAME"),
        "DAGSTER_PG_PASSWORD": setting("DAGSTER_PG_PASSWORD"),
        "DAGSTER_PG_DB": database,
        "KAFKA_BOOTSTRAP_SERVERS": setting("KAFKA_BOOTSTRAP_SERVERS"),
        "ANALYTICS_CLICKSTREAM_TOPIC": topics[0],
        "ANALYTICS_BACKEND_TOPIC": topics[1],
        "ANALYTICS_JOURNEY_TOPIC": journey_topic,
        **lake_environment(lake),
        "ANALYTICS_REPORTS_DIR": str(work / "reports"),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": stub_url + "/api/",
        "SLACK_ALERTS_CHANNEL": "#portal-alerts",
        "BENCH_FLOOR_TOPIC": floor_topic,
    }
    floor_env = {**env, "DAGSTER_HOME": str(floor_home), "DAGSTER_PG_DB": floor_database}
    daemon = floor_daemon = simulator = code_server = None
    meter = None
    cpu_phases: list[CpuPhase] = []
    load: list[subprocess.Popen] = []
    signups: list[Signup] = []
    floors: list[Signup] = []
    measured = False
    try:
        dagster_daemon = str(VENV_BIN / "dagster-daemon")
        meter = CpuMeter(run_id)
        if args.code_server:  # as `dagster dev` (make run) and Dagster's Helm chart run it
            code_server = spawn(
                [
                    *(str(VENV_BIN / "dagster"), "code-server", "start", "-s", str(socket)),
                    *("-m", args.module, "-d", str(code_dir)),
                    *("--location-name", "analytics_pipeline"),
                ],
                env,
                work / "code_server.log",
                work,
                preexec_fn=meter.enter,
            )
            wait_for(socket.exists, 180, "the code server", code_server, work / "code_server.log")
        daemon = spawn(
            [dagster_daemon, "run", "-w", str(work / "workspace.yaml")],
            env,
            work / "daemon.log",
            work,
            preexec_fn=meter.enter,
        )
        if args.sim_rate > 0:
            simulate = [str(VENV_BIN / "analytics-pipeline"), "simulate", "--live"]
            simulator = spawn(
                [*simulate, "--rate", str(args.sim_rate), "--seed", str(args.seed)],
                env,
                work / "simulator.log",
                work,
            )

        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=setting("KAFKA_BOOTSTRAP_SERVERS"), linger_ms=0)
        rng = random.Random(args.seed)

        def produce(user: str) -> Signup:
            signup = Signup(user=user, produced_at=time.time(), event_id=f"bench-{uuid.uuid4()}")
            value = signup_value(user, signup.event_id)
            producer.send(topics[1], value=value, key=user.encode()).get(timeout=30)
            signup.acked_at = time.time()
            return signup

        def produce_floor() -> Signup:
            produced_at = time.time()
            sent = producer.send(floor_topic, value=b"floor", partition=0).get(timeout=30)
            return Signup(
                user=f"floor-0-{sent.offset}", produced_at=produced_at, acked_at=time.time()
            )

        print("warming up (daemon start, first runs) ...", file=sys.stderr)
        warm = produce(f"warmup-{run_id}")
        wait_for(
            lambda: received(stub_url, {warm.user}),
            300,
            "the warm-up alert",
            daemon,
            work / "daemon.log",
        )
        print(f"warm-up alert after {time.time() - warm.produced_at:.1f} s", file=sys.stderr)
        if args.load:
            load = start_load(env, work)
        watcher = StoredWatcher(lake, signups)
        watcher.start()
        stream_watcher = JourneyWatcher(journey_topic, signups)
        stream_watcher.start()

        def wait_arrived(sent: list[Signup], by: subprocess.Popen) -> None:
            users = {s.user for s in sent}
            deadline = time.monotonic() + args.timeout
            arrived: dict[str, float] = {}
            while time.monotonic() < deadline and len(arrived) < len(users):
                if by.poll() is not None:
                    raise SystemExit(f"dagster-daemon exited; see the logs in {work}")
                arrived = received(stub_url, users)
                time.sleep(0.2)
            for s in sent:
                s.received_at = arrived.get(s.user)

        def produce_signups() -> None:
            for i in range(args.signups):
                time.sleep(rng.expovariate(1 / args.mean_gap))
                signups.append(produce(f"bench-{run_id}-{i:03d}"))
                print(f"produced {i + 1}/{args.signups}", file=sys.stderr, end="\r")

        cpu_phases.append(measure_cpu(meter, "sign-ups", produce_signups))
        wait_arrived(signups, daemon)
        if args.idle_seconds > 0:
            print("\nidle: waiting for the runs to end ...", file=sys.stderr)
            wait_for(
                lambda: not runs_in_flight(database),
                600,
                "the ingest runs to end (live tails idle out)",
                daemon,
                work / "daemon.log",
            )
            cpu_phases.append(measure_cpu(meter, "idle", lambda: time.sleep(args.idle_seconds)))
        watcher.wait_all(timeout=60)
        stream_watcher.wait_all(timeout=60)
        if args.floor:
            # A phase of its own: our daemon stops first, so neither takes the other's cores.
            print("\nthe floor ...", file=sys.stderr)
            stop_group(daemon)
            floor_daemon = spawn(
                [dagster_daemon, "run", "-w", str(work / "floor_workspace.yaml")],
                floor_env,
                work / "floor_daemon.log",
                work,
            )
            warm_floor = produce_floor()
            wait_for(
                lambda: received(stub_url, {warm_floor.user}),
                300,
                "the floor's warm-up message",
                floor_daemon,
                work / "floor_daemon.log",
            )
        for i in range(args.signups if args.floor else 0):
            time.sleep(rng.expovariate(1 / args.mean_gap))
            floors.append(produce_floor())
            print(f"produced {i + 1}/{args.signups}", file=sys.stderr, end="\r")
        if floors:
            wait_arrived(floors, floor_daemon)
        ours = {s.user for s in signups}
        duplicates = len(
            [m for m in stub_messages(stub_url) if any(f"`{u}`" in m["text"] for u in ours)]
        ) - len([s for s in signups if s.received_at is not None])
        call_s = slack_call_seconds(stub_url + "/api/")
        measured = True
    finally:
        for process in load:
            stop_group(process)
        if simulator is not None:
            stop_group(simulator)
        for one in (daemon, floor_daemon, code_server):
            if one is not None:
                stop_group(one)
        stub.terminate()
        stub.wait(timeout=10)
        if meter is not None:
            meter.close()
        if not measured and not args.keep:
            cleanup([database, floor_database], [*topics, floor_topic, journey_topic], work)
            lake_context.__exit__(None, None, None)

    os.environ.update({k: v for k, v in env.items() if k.startswith("DAGSTER_")})
    breakdown(signups, floors, floor_home, floor_database, lake)
    stored = [s.stored_at - s.produced_at for s in signups if s.stored_at is not None]
    streamed = [s.streamed_at - s.produced_at for s in signups if s.streamed_at is not None]
    latencies = [s.latency for s in signups if s.latency is not None]
    missing = len(signups) - len(latencies)
    if missing:  # not there within the timeout: they count as the slowest
        latencies += [float("inf")] * missing
    stage_medians = {
        f"{name} (n={len(values)})": statistics.median(values)
        for name in STAGES
        if (values := [s.stages[name] for s in signups if name in s.stages])
    }
    floor_latencies = [f.latency for f in floors if f.latency is not None]
    floor_missing = len(floors) - len(floor_latencies)
    floor_latencies += [float("inf")] * floor_missing
    floor_latencies = floor_latencies or [float("nan")]
    floor_stages = {
        f"{name} (n={len(values)})": statistics.median(values)
        for name in FLOOR_STAGES
        if (values := [f.stages[name] for f in floors if name in f.stages])
    }
    result = {
        "label": args.label,
        "module": args.module,
        "signups": len(signups),
        "mean_gap_s": args.mean_gap,
        "simulator_rate": args.sim_rate,
        "p50_s": statistics.median(latencies),
        "p95_s": percentile(latencies, 95),
        "max_s": max(latencies),
        "min_s": min(latencies),
        "mean_gap_measured_s": (signups[-1].produced_at - signups[0].produced_at)
        / max(1, len(signups) - 1),
        "duplicates": duplicates,
        "missing_after_timeout": missing,
        "timeout_s": args.timeout,
        "stage_medians_s": stage_medians,
        "floor": {
            "messages": len(floors),
            "p50_s": statistics.median(floor_latencies),
            "p95_s": percentile(floor_latencies, 95),
            "max_s": max(floor_latencies),
            "min_s": min(floor_latencies),
            "missing_after_timeout": floor_missing,
            "stage_medians_s": floor_stages,
            "latencies_s": floor_latencies,
        },
        "load": args.load,
        "cpu_per_minute": {phase.name: phase.per_minute() for phase in cpu_phases},
        "stored_p50_s": statistics.median(stored) if stored else float("nan"),
        "stored_p95_s": percentile(stored, 95) if stored else float("nan"),
        "stored_missing": len(signups) - len(stored),
        "streamed_p50_s": statistics.median(streamed) if streamed else float("nan"),
        "streamed_p95_s": percentile(streamed, 95) if streamed else float("nan"),
        "streamed_missing": len(signups) - len(streamed),
        "slack_call_median_s": call_s,
        "latencies_s": latencies,
        "per_signup": [
            {
                "at_s": round(x.produced_at - signups[0].produced_at, 3),
                "latency_s": x.latency,
                "stages_s": x.stages,
            }
            for x in signups
        ],
        "machine": f"{platform.node()} ({os.cpu_count()} cores)",
        "load_average_1m_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "work_dir": str(work),
    }
    (work / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    slug = "".join(c if c.isalnum() else "-" for c in args.label)
    last = REPO / "bench" / ".work" / f"alerts-last-{slug}.json"
    last.write_text(json.dumps(result, indent=2), encoding="utf-8")

    summary = markdown_summary(args, result, stage_medians, floor_stages, call_s)
    print("\n" + summary)
    if args.write_results:
        sys.path.insert(0, str(HERE.parent))
        from latest_block import write_latest_block

        write_latest_block(
            HERE / "RESULTS.md", "bench_alerts.py", summary, title="Alert latency benchmark"
        )

    if not args.keep:
        cleanup([database, floor_database], [*topics, floor_topic, journey_topic], work)
    lake_context.__exit__(None, None, None)
    return 0


def markdown_summary(
    args: argparse.Namespace,
    result: dict[str, Any],
    stages: dict[str, float],
    floor_stages: dict[str, float],
    call_s: float,
) -> str:
    floor = result["floor"]

    def row(name: str, r: dict[str, Any], n: int) -> str:
        return (
            f"| {name} | {n} | {r['p50_s']:.1f} s | {r['p95_s']:.1f} s | {r['max_s']:.1f} s "
            f"| {r['min_s']:.1f} s |"
        )

    lines = [
        f"### {args.label} ({result['at']}, {result['machine']})",
        "",
        f"{result['signups']} sign-ups and {floor['messages']} floor messages, each stream's mean "
        f"gap {args.mean_gap} s, simulator {args.sim_rate} events/s, duplicates at the stub: "
        f"{result['duplicates']}, not arrived {args.timeout:.0f} s after the last produce: "
        f"{result['missing_after_timeout']} (floor: {floor['missing_after_timeout']}), "
        f"load average {result['load_average_1m_before_after']}",
        "",
        f"Load beside the stream (slow reader + 90-day backfills): {'on' if args.load else 'off'}",
        "",
        "| produce -> Slack stub | n | p50 | p95 | max | min |",
        "|---|---:|---:|---:|---:|---:|",
        row("**ours** (sign-up -> `new_signup` alert)", result, result["signups"]),
        row("**the floor** (stock sensor -> one-op job -> post)", floor, floor["messages"]),
        "",
        f"Ours, produce -> stored (visible to a lake reader): p50 {result['stored_p50_s']:.1f} s, "
        f"p95 {result['stored_p95_s']:.1f} s.",
        "",
        f"Ours, produce -> journey topic (the `signed_up` action, read_committed): p50 "
        f"{result['streamed_p50_s']:.1f} s, p95 {result['streamed_p95_s']:.1f} s, not arrived: "
        f"{result['streamed_missing']}.",
        "",
        "| stage (median) | ours, s | the floor, s |",
        "|---|---:|---:|",
    ]
    floor_by_name = {name.split(" (n=")[0]: value for name, value in floor_stages.items()}
    for name, value in stages.items():
        base = name.split(" (n=")[0]
        other = floor_by_name.pop(base, None)
        lines.append(f"| {name} | {value:.2f} | {'' if other is None else f'{other:.2f}'} |")
    lines += [f"| {name} | | {value:.2f} |" for name, value in floor_by_name.items()]
    lines.append(f"| (the chat.postMessage call itself) | {call_s:.3f} | |")
    if result["cpu_per_minute"]:
        lines += [
            "",
            "| CPU-seconds per minute (a core is 60) | pipeline (daemon, code server, warm "
            "parent, run workers) | Kafka | PostgreSQL |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {phase} | {cpu['pipeline']:.1f} | {cpu['kafka']:.1f} | {cpu['postgresql']:.1f} |"
            for phase, cpu in result["cpu_per_minute"].items()
        ]
    return "\n".join(lines)


def cleanup(databases: list[str], topics: list[str], work: Path) -> None:
    for database in databases:
        try:
            pg_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        except Exception as error:
            print(f"could not drop database {database}: {error}", file=sys.stderr)
    delete_topics(topics)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
