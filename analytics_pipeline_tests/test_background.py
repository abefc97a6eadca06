"""Background runs lower their process's CPU priority, every thread of it and what it starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = """
import json, os, subprocess, sys, threading
import duckdb
from analytics_pipeline.resources.analytics import AnalyticsResource

duckdb.connect().execute("SELECT sum(i) FROM range(1000000) t(i)").fetchall()  # its threads
ready, done = threading.Event(), threading.Event()
threading.Thread(target=lambda: (ready.set(), done.wait()), daemon=True).start()
ready.wait()
said = []
AnalyticsResource(background_niceness=int(sys.argv[1])).run_in_background(said.append)
child = subprocess.run(
    [sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
    capture_output=True, text=True, check=True,
)
print(json.dumps({"pid": os.getpid(), "child": int(child.stdout), "said": said}), flush=True)
sys.stdin.read()  # stay alive while the test reads /proc
"""


def _thread_niceness(pid: int) -> dict[int, int]:
    """Niceness of each thread of `pid`, as the kernel reports it (field 19 of its stat)."""
    values = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        values[int(task.name)] = int(stat[stat.rindex(")") + 2 :].split()[16])
    return values


@pytest.mark.parametrize("niceness", [0, 7])
def test_a_background_run_lowers_the_priority_of_all_its_threads_and_children(niceness):
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(niceness)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        report = json.loads(process.stdout.readline())
        threads = _thread_niceness(report["pid"])
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    assert len(threads) >= 3  # main, the waiting thread, DuckDB's workers
    assert set(threads.values()) == {niceness}
    assert report["child"] == niceness
    if niceness:
        assert report["said"] == [
            f"background run: CPU niceness {niceness}, so ingest and alerts run first"
        ]
    else:
        assert report["said"] == []
