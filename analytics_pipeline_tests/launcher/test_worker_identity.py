"""A run worker's identity (boot id, pid, start time): what run monitoring judges a run by."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from analytics_pipeline.launcher.worker_identity import WorkerIdentity, boot_id, start_ticks


def test_a_live_process_is_alive_and_its_tags_name_it_again():
    me = WorkerIdentity.of(os.getpid())
    assert me.on_this_machine() and me.alive()
    assert WorkerIdentity.from_tags({"other": "x", **me.tags()}) == me
    assert WorkerIdentity.from_tags({"analytics/worker_pid": "12"}) is None


def test_an_exited_process_is_dead_even_before_it_is_reaped():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = WorkerIdentity(boot_id(), child.pid, start_ticks(child.pid) or 0)
    deadline = time.monotonic() + 30
    while start_ticks(child.pid) is not None:  # a zombie until reaped: already dead
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.01)
    assert not identity.alive()
    child.wait()
    assert not identity.alive()


def test_a_reused_pid_is_not_the_same_worker():
    me = WorkerIdentity.of(os.getpid())
    assert not WorkerIdentity(me.boot, me.pid, me.started + 1).alive()


def test_a_worker_recorded_on_another_boot_is_not_judged_here():
    me = WorkerIdentity.of(os.getpid())
    assert not WorkerIdentity("another-boot", me.pid, me.started).on_this_machine()
