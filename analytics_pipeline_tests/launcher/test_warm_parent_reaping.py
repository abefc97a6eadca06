"""The warm parent waits for the runs it forked, so their CPU time stays on the books."""

from __future__ import annotations

import os
import signal
import time

from analytics_pipeline.launcher.warm_parent import _reap_children
from analytics_pipeline.launcher.worker_identity import WorkerIdentity
from analytics_pipeline_tests.fixtures.stack import wait_until


def _burn(seconds: float) -> None:
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def test_an_ended_run_is_reaped_and_its_cpu_time_counted():
    before = _children_cpu()
    previous = signal.signal(signal.SIGCHLD, _reap_children)
    try:
        pid = os.fork()
        if not pid:  # the "run": half a CPU-second, then gone
            _burn(0.5)
            os._exit(0)
        worker = WorkerIdentity.of(pid)
        wait_until(lambda: not worker.alive(), timeout=30, interval=0.05, message="run lives")
        wait_until(
            lambda: not os.path.exists(f"/proc/{pid}"),
            timeout=10,
            interval=0.05,
            message=f"run {pid} was left a zombie",
        )
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert _children_cpu() - before >= 0.4
