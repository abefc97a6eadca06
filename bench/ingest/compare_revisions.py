"""Our ingest path at several revisions against bare kafka-python, interleaved, in one run.

Usage: .venv/bin/python bench/ingest/compare_revisions.py [--events 300000] [--rounds 3]
           NAME=CHECKOUT [NAME=CHECKOUT ...]

Each CHECKOUT is a work tree of this repository (e.g. `git worktree add --detach /tmp/main
main`); its `bench_ingest.py --child analytics_pipeline` runs with that tree first on
PYTHONPATH, in this venv, on the topics `bench_ingest.py` filled. kafka-python runs from the
first checkout. On a shared machine a run's wall time follows the load, so besides events/s
this reports each child's CPU time (user + sys) and the 1-minute load when it started.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys


def run(checkout: str, child: str, events: int) -> tuple[float, float]:
    """(events/s, CPU seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [
            sys.executable,
            f"{checkout}/bench/ingest/bench_ingest.py",
            *("--child", child, "--events", str(events)),
        ],
        env=dict(os.environ, PYTHONPATH=checkout),
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["events"] / result["seconds"], cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("revisions", nargs="+", metavar="NAME=CHECKOUT")
    args = parser.parse_args()
    revisions = dict(r.split("=", 1) for r in args.revisions)
    paths = {"kafka-python": (next(iter(revisions.values())), "kafka-python")}
    paths |= {name: (checkout, "analytics_pipeline") for name, checkout in revisions.items()}
    rates: dict[str, list[float]] = {name: [] for name in paths}
    cpus: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(args.rounds):
        for name, (checkout, child) in paths.items():
            load = os.getloadavg()[0]
            rate, cpu = run(checkout, child, args.events)
            rates[name].append(rate)
            cpus[name].append(cpu)
            print(f"round {round_ + 1} {name}: {rate:,.0f}/s, {cpu:.2f} CPU-s, load {load:.1f}")
    bare = statistics.median(rates["kafka-python"])
    bare_cpu = statistics.median(cpus["kafka-python"])
    print(f"kafka-python: median {bare:,.0f}/s, {bare_cpu:.2f} CPU-s")
    for name in revisions:
        pairs = zip(rates[name], rates["kafka-python"], strict=True)
        ratios = ", ".join(f"{rate / bare_rate:.2f}" for rate, bare_rate in pairs)
        median = statistics.median(rates[name])
        print(
            f"{name}: median {median:,.0f}/s, c/a {median / bare:.2f} (per round {ratios}), "
            f"{statistics.median(cpus[name]):.2f} CPU-s"
        )


if __name__ == "__main__":
    main()
