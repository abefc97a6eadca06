"""A run worker killed with SIGKILL (the OOM killer's way) mid-ingest, several times at random
points: the pipeline recovers with no manual action and stores every message exactly once."""

from __future__ import annotations

import os
import random
import signal
import time

import psutil
import pytest

from analytics_pipeline_tests.faults.conftest import page_view
from analytics_pipeline_tests.fixtures.stack import wait_until

KILLS = 2
VALID, INVALID = 900, 9


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_run_workers_killed_mid_batch_leave_every_message_stored_once(pipeline, produce):
    rng = random.Random(os.environ.get("FAULT_SEED", "kill"))
    p = pipeline()
    values = [page_view(f"e{i}") for i in range(VALID)]
    for i in range(INVALID):  # dead letters spread over the runs
        values.insert(i * 100 + 7, b"not json")
    produce(p.clickstream, values, partition=0)
    total = len(values)

    killed = []
    for _ in range(KILLS):

        def running_worker():
            assert p.daemon.alive(), p.daemon.log_tail()
            for run in p.in_flight():
                pid = p.worker_pid(run.run_id)
                if pid and run.run_id not in {k[0] for k in killed}:
                    return run.run_id, pid
            return None

        run_id, pid = wait_until(running_worker, timeout=120, interval=0.1, message="no run")
        time.sleep(rng.uniform(0.0, 2.5))  # a random point of the run: polling, a commit...
        try:
            process = psutil.Process(pid)
            os.kill(pid, signal.SIGKILL)
            process.wait(timeout=10)
            killed.append((run_id, pid))
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass  # the run finished first; try the next one

    assert killed, "no run worker was killed"
    stored = p.wait_ledger(total, timeout=240)
    p.wait_settled(timeout=180)  # the retries of the killed runs find nothing left to do
    assert (stored.rows, stored.distinct_event_ids) == (VALID, VALID)
    assert (stored.dead_letters, stored.distinct_dead_offsets) == (INVALID, INVALID)
    killed_runs = {run.run_id: run.status.value for run in p.runs() if run.run_id in dict(killed)}
    assert set(killed_runs.values()) <= {"FAILURE"}, killed_runs

    # Nothing holds the ingest pool: a new message is stored by a new run.
    produce(p.clickstream, [page_view("after")], partition=0)
    stored = p.wait_ledger(total + 1, timeout=120)
    p.wait_settled(timeout=120)
    assert (stored.rows, stored.distinct_event_ids) == (VALID + 1, VALID + 1)
    print(f"FAULTS run-worker SIGKILL: {len(killed)} killed, 0 lost, 0 duplicated")
