"""CPU-seconds per minute of whole pipelines side by side: version A against version B.

Usage (after `make up`):
    .venv/bin/python bench/alerts/cpu_ab.py --variant base=ae5ed54 --variant new=HEAD \
        [--rate 5] [--warmup 120] [--windows 6] [--window-seconds 60]

Each variant is a commit of this repository, unpacked with `git archive` into bench/.work (a
snapshot: editing the work tree during a run does not restart anything), optionally with
environment overrides (`--variant name=COMMIT,VAR=value,...`). Every variant gets the same
kind of stack, private to it and started at the same time as the others: its own topics (3
partitions each), lake, Dagster database, `dagster code-server start` (as `dagster dev` and
Dagster's Helm chart run it) and `dagster-daemon run` with its own dagster.yaml, and, when
`--rate` > 0, the simulator as `make run` starts it on its topics. One Slack stub takes every
variant's alerts. The daemon and code server of a variant (and every process they start: the
warm parent, the run workers) are in a cpuacct cgroup of their own; the simulator is not.

After the warm-up, the cgroups are read at the end of each window, so every window holds one
sample of each variant taken over the same seconds: the machine's load (other jobs on a shared
machine) hits all variants alike. The result is the median over the windows, per variant, with
the live processes split by role from /proc. Kafka and PostgreSQL serve every variant: they are
reported in total, not per variant.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from bench_alerts import (  # noqa: E402
    REPO,
    TOKEN,
    VENV_BIN,
    cleanup,
    create_topics,
    pg_execute,
    service_seconds,
    setting,
    spawn,
    start_stub,
    stop_group,
)
from cpu_meter import CpuMeter  # noqa: E402
from scratch_lake import scratch_lake  # noqa: E402

from analytics_pipeline_tests.fixtures.warehouse import lake_environment  # noqa: E402


@dataclass
class Variant:
    name: str
    commit: str
    env: dict[str, str]
    code: Path = Path()
    work: Path = Path()
    database: str = ""
    topics: list[str] = field(default_factory=list)
    meter: CpuMeter | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)  # CPU-s per minute, one per window
    batches: list[int] = field(default_factory=list)  # ingest transactions, one per window
    environment: dict[str, str] = field(default_factory=dict)
    by_role: collections.Counter[str] = field(default_factory=collections.Counter)

    @classmethod
    def parse(cls, text: str) -> Variant:
        name, _, rest = text.partition("=")
        commit, *overrides = rest.split(",")
        env = dict(item.split("=", 1) for item in overrides)
        return cls(name=name, commit=commit or "HEAD", env=env)


def unpack(commit: str, into: Path) -> Path:
    """The tree of `commit` in `into` (once per commit)."""
    sha = subprocess.check_output(["git", "rev-parse", commit], cwd=REPO, text=True).strip()
    target = into / f"code-{sha[:10]}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.Popen(["git", "archive", sha], cwd=REPO, stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, check=True)
        archive.wait()
    return target


def role(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    if "warm_parent" in command:
        parent = process.parent()
        forked = parent is not None and "warm_parent" in " ".join(parent.cmdline())
        return "run worker" if forked else "warm parent"
    for fragment, name in (
        ("dagster-daemon", "daemon"),
        ("api grpc", "code server"),
        ("code-server start", "code server (proxy)"),
    ):
        if fragment in command:
            return name
    return "other: " + command[:60]


def start(variant: Variant, lake_env: dict[str, str], stub_url: str, rate: float) -> None:
    home = variant.work / "home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text((variant.code / "dagster.yaml").read_text())
    pg_execute(f'CREATE DATABASE "{variant.database}"')
    create_topics(variant.topics)
    meter = variant.meter = CpuMeter(variant.name)
    env = {
        **os.environ,
        "PYTHONPATH": str(variant.code),
        "DAGSTER_HOME": str(home),
        **{k: setting(k) for k in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT")},
        **{k: setting(k) for k in ("DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD")},
        "DAGSTER_PG_DB": variant.database,
        "KAFKA_BOOTSTRAP_SERVERS": setting("KAFKA_BOOTSTRAP_SERVERS"),
        "ANALYTICS_CLICKSTREAM_TOPIC": variant.topics[0],
        "ANALYTICS_BACKEND_TOPIC": variant.topics[1],
        "ANALYTICS_JOURNEY_TOPIC": variant.topics[2],
        **lake_env,
        "ANALYTICS_REPORTS_DIR": str(variant.work / "reports"),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": stub_url + "/api/",
        **variant.env,
    }
    variant.environment = env
    socket = variant.work / "code.sock"
    variant.processes.append(
        spawn(
            [
                *(str(VENV_BIN / "dagster"), "code-server", "start", "-s", str(socket)),
                *("-m", "analytics_pipeline.definitions", "-d", str(variant.code)),
                *("--location-name", "analytics_pipeline"),
            ],
            env,
            variant.work / "code_server.log",
            variant.work,
            preexec_fn=meter.enter,
        )
    )
    workspace = variant.work / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - grpc_server:\n      socket: {socket}\n"
        "      location_name: analytics_pipeline\n"
    )
    deadline = time.monotonic() + 180
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    variant.processes.append(
        spawn(
            [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            env,
            variant.work / "daemon.log",
            variant.work,
            preexec_fn=meter.enter,
        )
    )
    if rate > 0:
        simulate = [str(VENV_BIN / "analytics-pipeline"), "simulate", "--users", "100"]
        variant.processes.append(
            spawn(
                [*simulate, "--days", "7", "--seed", "7", "--live", "--rate", str(rate)],
                env,
                variant.work / "simulator.log",
                variant.work,
            )
        )


# Ingest transactions so far: batch ids from the one counter before the ingest writers
# (migration 0003), the distinct batches in the ledger's log after it.
BATCH_COUNT_QUERIES = (
    "SELECT coalesce(max(last_batch_id), 0) AS n FROM ingest_batch_counter",
    "SELECT count(DISTINCT ingest_batch_id) AS n FROM ingest_offset_log",
)


def ingest_batches(env: dict[str, str], cwd: Path) -> int:
    """Ingest transactions so far (each micro-batch has one per topic with new messages), read
    by `analytics-pipeline sql` in a process of its own (outside the variant's cgroup)."""
    errors = []
    for query in BATCH_COUNT_QUERIES:
        done = subprocess.run(
            [str(VENV_BIN / "analytics-pipeline"), "sql", query, "--format", "csv"],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        last = done.stdout.strip().splitlines()[-1:] or [""]
        if not done.returncode and last[0].isdigit():
            return int(last[0])
        errors.append(done.stderr.strip()[-300:])
    print(f"could not count batches: {' / '.join(errors)}", file=sys.stderr)
    return -1


def sample_roles(variant: Variant, first: dict[int, tuple[str, float]], last: dict) -> None:
    assert variant.meter is not None
    for pid in map(int, (variant.meter.path / "cgroup.procs").read_text().split()):
        try:
            process = psutil.Process(pid)
            cpu = sum(process.cpu_times()[:2])
            if pid not in first:
                first[pid] = (role(process), cpu)
            last[pid] = cpu
        except psutil.Error:
            pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", action="append", required=True, type=Variant.parse)
    parser.add_argument("--rate", type=float, default=5.0, help="simulator events/s (0: idle)")
    parser.add_argument("--warmup", type=float, default=120)
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--window-seconds", type=float, default=60)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    # `kill` (a run started in the background ignores SIGINT) stops the stacks and cleans up too.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    run_id = uuid.uuid4().hex[:6]
    work = REPO / "bench" / ".work" / f"cpu-ab-{run_id}"
    variants: list[Variant] = args.variant
    for variant in variants:
        variant.code = unpack(variant.commit, REPO / "bench" / ".work")
        variant.work = work / variant.name
        variant.database = f"dagster_cpu_{run_id}_{variant.name}"
        # clickstream, backend, and the journey stream's own topic: on the shared default
        # (portal-journeys) every variant's publisher would refuse the others' records and
        # spend its micro-batches re-reading the topic's position
        variant.topics = [
            f"cpu-{run_id}-{variant.name}-{t}" for t in ("clickstream", "backend", "journeys")
        ]
    stub, stub_url = start_stub(work / "slack")
    services: dict[str, float] = {}
    with ExitStack() as stack:
        try:
            for variant in variants:
                lake = stack.enter_context(scratch_lake(f"cpu_{variant.name}"))
                start(variant, lake_environment(lake), stub_url, args.rate)
            print(f"warming up {args.warmup:.0f} s ...", file=sys.stderr)
            time.sleep(args.warmup)
            firsts: dict[str, dict] = {v.name: {} for v in variants}
            lasts: dict[str, dict] = {v.name: {} for v in variants}
            before = {v.name: v.meter.seconds() for v in variants if v.meter}
            batches_before = {v.name: ingest_batches(v.environment, v.work) for v in variants}
            services_before = service_seconds()
            for window in range(args.windows):
                started = time.monotonic()
                while time.monotonic() - started < args.window_seconds:
                    for v in variants:
                        sample_roles(v, firsts[v.name], lasts[v.name])
                    time.sleep(1.0)
                minutes = (time.monotonic() - started) / 60
                line = []
                for v in variants:
                    assert v.meter is not None
                    now = v.meter.seconds()
                    v.samples.append((now - before[v.name]) / minutes)
                    before[v.name] = now
                    batches = ingest_batches(v.environment, v.work)
                    v.batches.append(batches - batches_before[v.name])
                    batches_before[v.name] = batches
                    line.append(f"{v.name} {v.samples[-1]:.1f} ({v.batches[-1]} batches)")
                load = os.getloadavg()[0]
                print(f"window {window + 1}: {', '.join(line)} (load {load:.1f})", file=sys.stderr)
            services_after = service_seconds()
            total_minutes = args.windows * args.window_seconds / 60
            services = {
                k: (services_after[k] - services_before[k]) / total_minutes for k in services_after
            }
            for v in variants:
                for pid, (name, cpu) in firsts[v.name].items():
                    v.by_role[name] += (lasts[v.name][pid] - cpu) / total_minutes
        finally:
            for variant in variants:
                for process in reversed(variant.processes):
                    stop_group(process)
                if variant.meter is not None:
                    variant.meter.close()
            stub.terminate()
            stub.wait(timeout=10)
            cleanup([v.database for v in variants], [t for v in variants for t in v.topics], work)
    result = {
        "label": args.label,
        "rate": args.rate,
        "windows": args.windows,
        "window_seconds": args.window_seconds,
        "variants": {
            v.name: {
                "commit": v.commit,
                "env": v.env,
                "median": statistics.median(v.samples),
                "samples": [round(s, 2) for s in v.samples],
                "ingest_batches": v.batches,
                # CPU-s per ingest transaction (the whole pipeline's, daemon included)
                "cpu_per_batch": round(
                    statistics.median(
                        s * args.window_seconds / 60 / b
                        for s, b in zip(v.samples, v.batches, strict=True)
                        if b > 0
                    ),
                    3,
                )
                if any(b > 0 for b in v.batches)
                else None,
                "by_role": {k: round(x, 2) for k, x in v.by_role.most_common()},
            }
            for v in variants
        },
        "services_total_per_minute": {k: round(x, 2) for k, x in services.items()},
    }
    print(json.dumps(result, indent=2))
    (REPO / "bench" / ".work" / f"cpu-ab-{run_id}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
