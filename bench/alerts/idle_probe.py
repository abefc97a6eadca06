"""Where an idle pipeline's CPU goes: a daemon with the shipped settings on empty topics,
sampled per process from /proc (exited processes counted through the cgroup total).

Usage (after `make up`): .venv/bin/python bench/alerts/idle_probe.py [--warmup 90] [--seconds 180]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import uuid
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from bench_alerts import (  # noqa: E402
    REPO,
    VENV_BIN,
    cleanup,
    create_topics,
    pg_execute,
    setting,
    spawn,
    stop_group,
)
from cpu_meter import CpuMeter  # noqa: E402
from scratch_lake import scratch_lake  # noqa: E402

from analytics_pipeline_tests.fixtures.warehouse import lake_environment  # noqa: E402


def role(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    for fragment, name in (
        ("dagster-daemon", "daemon"),
        ("api grpc", "code server"),
        ("code-server start", "code server (proxy)"),
        ("warm_parent", "warm parent"),
    ):
        if fragment in command:
            return name
    return "other: " + command[:60]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warmup", type=float, default=90)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument(
        "--topology",
        choices=["server", "managed"],
        default="server",
        help="server: a long-lived `dagster code-server start` the daemon connects to, as "
        "`dagster dev` (make run) and Dagster's Helm chart run it; managed: `dagster-daemon run "
        "-w workspace.yaml`, whose daemon starts its own code server and replaces it every 60 s",
    )
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    work = REPO / "bench" / ".work" / f"idle-{run_id}"
    (work / "home").mkdir(parents=True)
    (work / "home" / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    database = f"dagster_idle_{run_id}"
    topics = [f"idle-{run_id}-clickstream", f"idle-{run_id}-backend"]
    pg_execute(f'CREATE DATABASE "{database}"')
    create_topics(topics)
    meter = CpuMeter(run_id)
    with scratch_lake("idle") as lake:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(work / "home"),
            **{k: setting(k) for k in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT")},
            **{k: setting(k) for k in ("DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD")},
            "DAGSTER_PG_DB": database,
            "KAFKA_BOOTSTRAP_SERVERS": setting("KAFKA_BOOTSTRAP_SERVERS"),
            "ANALYTICS_CLICKSTREAM_TOPIC": topics[0],
            "ANALYTICS_BACKEND_TOPIC": topics[1],
            **lake_environment(lake),
            "ANALYTICS_REPORTS_DIR": str(work / "reports"),
        }
        workspace = REPO / "workspace.yaml"
        processes = []
        if args.topology == "server":
            socket = work / "code.sock"
            processes.append(
                spawn(
                    [
                        *(str(VENV_BIN / "dagster"), "code-server", "start", "-s", str(socket)),
                        *("-m", "analytics_pipeline.definitions", "-d", str(REPO)),
                        *("--location-name", "analytics_pipeline"),
                    ],
                    env,
                    work / "code_server.log",
                    work,
                    preexec_fn=meter.enter,
                )
            )
            workspace = work / "workspace.yaml"
            workspace.write_text(
                "load_from:\n  - grpc_server:\n"
                f"      socket: {socket}\n      location_name: analytics_pipeline\n"
            )
            deadline = time.monotonic() + 120
            while not socket.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
        daemon = spawn(
            [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            env,
            work / "daemon.log",
            work,
            preexec_fn=meter.enter,
        )
        processes.append(daemon)
        try:
            time.sleep(args.warmup)
            first: dict[int, tuple[str, float]] = {}
            last: dict[int, float] = {}
            started_total = meter.seconds()
            seen = collections.Counter()
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                for pid in map(int, (meter.path / "cgroup.procs").read_text().split()):
                    try:
                        process = psutil.Process(pid)
                        cpu = sum(process.cpu_times()[:2])
                        if pid not in first:
                            first[pid] = (role(process), cpu)
                            seen[first[pid][0]] += 1
                        last[pid] = cpu
                    except psutil.Error:
                        pass
                time.sleep(0.5)
            total = meter.seconds() - started_total
        finally:
            for process in reversed(processes):
                stop_group(process)
            meter.close()
    by_role: collections.Counter[str] = collections.Counter()
    for pid, (name, cpu) in first.items():
        by_role[name] += last[pid] - cpu
    minutes = args.seconds / 60
    print(
        f"{args.topology} topology, idle {args.seconds:.0f} s: "
        f"pipeline {total / minutes:.2f} CPU-s/min in all"
    )
    for name, cpu in by_role.most_common():
        print(f"  {name}: {cpu / minutes:.2f} CPU-s/min ({seen[name]} processes seen)")
    print(
        f"  not seen by the sampler (short-lived): {(total - sum(by_role.values())) / minutes:.2f}"
    )
    cleanup([database], topics, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
