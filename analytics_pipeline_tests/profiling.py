"""CPU-seconds per test file and per fixture setup: `make test-profile` (a pytest plugin).

Load it with `-p analytics_pipeline_tests.profiling --cpu-profile=DIR`. Every pytest process
(each xdist worker, and the serial run) measures the CPU its own tree of processes spent:
its own time, the time of the children it waited for (`getrusage`), and the time of the
descendants still alive (psutil, their waited-for children included), so in-process Dagster
runs, run workers, daemons, the dashboard server and a browser are all counted. The servers of
the stack (PostgreSQL backends, the Kafka broker) are not: they are shared with whatever else
runs on the machine. Each process writes DIR/<worker>.json at its end; then

    .venv/bin/python -m analytics_pipeline_tests.profiling DIR [--top N] > table.md

merges every JSON file in DIR into Markdown tables: per file (setup, call and teardown CPU and
wall seconds, summed over its tests) and per fixture (setup CPU and wall seconds, how many times
it was set up). A fixture's setup excludes the fixtures it requests: pytest sets those up before
it calls `pytest_fixture_setup` for the fixture itself.

The process that starts the session (the xdist controller, or the serial run) also writes
DIR/machine-<pid>.json: the machine's CPU over the session (/proc/stat) and what the stack's
servers spent of it, by role (PostgreSQL's postmaster counts the backends it reaped, so every
catalog query is there). What is in neither the pytest trees nor the servers is "other".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

PHASES = ("setup", "call", "teardown")


# A server process's role, by the first matching word of its command line.
SERVER_ROLES = (
    ("postgres", "postgresql"),
    ("kafka.Kafka", "kafka"),
    ("weed", "s3 (seaweedfs)"),
    ("redis-server", "redis"),
    ("slack_stub", "slack stub"),
)


def machine_cpu() -> float:
    """CPU-seconds the whole machine has spent since boot (user, nice, system, irq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def server_cpu() -> dict[int, tuple[str, float]]:
    """Per server process: its role and CPU-seconds so far, reaped children included."""
    found = {}
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or ())
        role = next((role for word, role in SERVER_ROLES if word in command), None)
        if role is None:
            continue
        try:
            t = process.cpu_times()
        except psutil.Error:
            continue
        found[process.pid] = (role, t.user + t.system + t.children_user + t.children_system)
    return found


class MachineMeter:
    """The machine's CPU and the stack servers' share of it, over this pytest session."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.started = (machine_cpu(), time.monotonic(), server_cpu())

    def pytest_sessionfinish(self) -> None:
        machine, wall, servers = self.started
        roles: dict[str, float] = defaultdict(float)
        for pid, (role, cpu) in server_cpu().items():
            before = servers.get(pid)
            # a server restarted during the session is a new pid: all its time is new
            roles[role] += cpu - before[1] if before and before[0] == role else cpu
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "machine_cpu": machine_cpu() - machine,
            "wall": time.monotonic() - wall,
            "servers": roles,
        }
        path = self.out_dir / f"machine-{os.getpid()}.json"
        path.write_text(json.dumps(record, indent=1), encoding="utf-8")


def process_tree_cpu() -> float:
    """CPU-seconds (user + system) of this process, its waited-for children and live descendants."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    try:
        descendants = psutil.Process().children(recursive=True)
    except psutil.Error:
        descendants = []
    for child in descendants:
        try:
            times = child.cpu_times()
        except psutil.Error:  # it ended in between: its time moves to whoever waits for it
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class CpuProfile:
    """Collects CPU and wall seconds per (file, phase) and per fixture in one pytest process."""

    def __init__(self, out_dir: Path, worker: str) -> None:
        self.out_dir = out_dir
        self.worker = worker
        self.files: dict[str, dict[str, list[float]]] = defaultdict(
            lambda: {phase: [0.0, 0.0] for phase in PHASES}
        )
        self.tests: dict[str, int] = defaultdict(int)
        self.fixtures: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        self.started = (process_tree_cpu(), time.monotonic())

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Iterator[None]:
        cpu, wall = process_tree_cpu(), time.monotonic()
        yield
        entry = self.fixtures[f"{fixturedef.argname} ({fixturedef.scope})"]
        entry[0] += process_tree_cpu() - cpu
        entry[1] += time.monotonic() - wall
        entry[2] += 1

    def _measure(self, item: pytest.Item, phase: str) -> Iterator[None]:
        cpu, wall = process_tree_cpu(), time.monotonic()
        yield
        entry = self.files[item.nodeid.split("::", 1)[0]][phase]
        entry[0] += process_tree_cpu() - cpu
        entry[1] += time.monotonic() - wall

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        self.tests[item.nodeid.split("::", 1)[0]] += 1
        yield from self._measure(item, "setup")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        yield from self._measure(item, "call")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        yield from self._measure(item, "teardown")

    def pytest_sessionfinish(self) -> None:
        if not self.tests:
            return  # the xdist controller, or nothing selected
        cpu, wall = self.started
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "worker": self.worker,
            "process_cpu": process_tree_cpu() - cpu,
            "process_wall": time.monotonic() - wall,
            "tests": self.tests,
            "files": self.files,
            "fixtures": self.fixtures,
        }
        name = f"{self.worker}-{os.getpid()}.json"
        (self.out_dir / name).write_text(json.dumps(record, indent=1), encoding="utf-8")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-profile",
        metavar="DIR",
        default=None,
        help="write CPU/wall seconds per test file and per fixture setup to DIR/<worker>.json "
        "(merge with: python -m analytics_pipeline_tests.profiling DIR)",
    )


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("--cpu-profile")
    if not out:
        return
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    config.pluginmanager.register(CpuProfile(Path(out), worker), "analytics-cpu-profile")
    if worker == "main":
        config.pluginmanager.register(MachineMeter(Path(out)), "analytics-machine-meter")


# --- the report ------------------------------------------------------------------------------


def merge(out_dir: Path) -> dict[str, Any]:
    files: dict[str, dict[str, list[float]]] = defaultdict(
        lambda: {phase: [0.0, 0.0] for phase in PHASES}
    )
    tests: dict[str, int] = defaultdict(int)
    fixtures: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    processes = []
    machine = [
        json.loads(path.read_text(encoding="utf-8")) for path in out_dir.glob("machine-*.json")
    ]
    for path in sorted(out_dir.glob("*.json")):
        if path.name.startswith("machine-"):
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        processes.append(record)
        for file, count in record["tests"].items():
            tests[file] += count
        for file, phases in record["files"].items():
            for phase, (cpu, wall) in phases.items():
                files[file][phase][0] += cpu
                files[file][phase][1] += wall
        for name, (cpu, wall, count) in record["fixtures"].items():
            fixtures[name][0] += cpu
            fixtures[name][1] += wall
            fixtures[name][2] += count
    return {
        "files": files,
        "tests": tests,
        "fixtures": fixtures,
        "processes": processes,
        "machine": machine,
    }


def render_machine(data: dict[str, Any]) -> list[str]:
    """Where the machine's CPU went: the pytest trees, each server role, the rest."""
    if not data["machine"]:
        return []
    total = sum(m["machine_cpu"] for m in data["machine"])
    wall = sum(m["wall"] for m in data["machine"])
    roles: dict[str, float] = defaultdict(float)
    for record in data["machine"]:
        for role, cpu in record["servers"].items():
            roles[role] += cpu
    rows = [
        ("pytest processes and their children", sum(p["process_cpu"] for p in data["processes"]))
    ]
    rows += sorted(roles.items(), key=lambda row: row[1], reverse=True)
    rows.append(("other (the rest of the machine)", total - sum(cpu for _, cpu in rows)))
    lines = [
        "### Where the machine's CPU went",
        "",
        f"{total:.0f} CPU-s over {wall:.0f} s of pytest sessions "
        f"({total / wall if wall else 0:.2f} cores busy on average).",
        "",
        "| who | CPU-s | share |",
        "|---|--:|--:|",
    ]
    lines += [f"| {who} | {cpu:.0f} | {cpu / total if total else 0:.0%} |" for who, cpu in rows]
    return [*lines, ""]


def render(data: dict[str, Any], top: int) -> str:
    files, tests, fixtures = data["files"], data["tests"], data["fixtures"]
    total_cpu = sum(p[0] for phases in files.values() for p in phases.values())
    total_wall = sum(p[1] for phases in files.values() for p in phases.values())
    lines = [
        f"{sum(tests.values())} tests in {len(files)} files, "
        f"{len(data['processes'])} pytest processes: {total_cpu:.0f} CPU-s and "
        f"{total_wall:.0f} s wall inside tests (setup + call + teardown); "
        f"{sum(p['process_cpu'] for p in data['processes']):.0f} CPU-s in all, collection "
        "and imports included.",
        "",
        *render_machine(data),
        "### Per file (CPU-s; wall s in brackets), heaviest first",
        "",
        "| file | tests | CPU-s | share | setup | call | teardown | wall s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]

    def cpu_of(file: str) -> float:
        return sum(p[0] for p in files[file].values())

    ranked = sorted(files, key=cpu_of, reverse=True)
    for file in ranked[:top] if top else ranked:
        phases = files[file]
        wall = sum(p[1] for p in phases.values())
        share = cpu_of(file) / total_cpu if total_cpu else 0.0
        cells = [f"{phases[p][0]:.1f} ({phases[p][1]:.1f})" for p in PHASES]
        lines.append(
            f"| {file.removeprefix('analytics_pipeline_tests/')} | {tests[file]} | "
            f"{cpu_of(file):.1f} | {share:.0%} | {' | '.join(cells)} | {wall:.1f} |"
        )
    lines += [
        "",
        "### Per fixture setup (the fixture alone, not the fixtures it requests), heaviest first",
        "",
        "| fixture (scope) | set up | CPU-s | wall s | CPU-s each |",
        "|---|--:|--:|--:|--:|",
    ]
    ranked_fixtures = sorted(fixtures, key=lambda name: fixtures[name][0], reverse=True)
    for name in ranked_fixtures[:top] if top else ranked_fixtures:
        cpu, wall, count = fixtures[name]
        if cpu < 0.05 and wall < 0.05:
            continue
        lines.append(f"| {name} | {count} | {cpu:.1f} | {wall:.1f} | {cpu / count:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("dir", type=Path, help="the --cpu-profile directory")
    parser.add_argument("--top", type=int, default=0, help="only the N heaviest rows (0: all)")
    args = parser.parse_args(argv)
    data = merge(args.dir)
    if not data["processes"]:
        print(f"no profile in {args.dir}", file=sys.stderr)
        return 1
    sys.stdout.write(render(data, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
