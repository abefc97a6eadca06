"""Who a run worker is, in terms that survive a daemon restart and cannot be fooled by pid reuse.

A run's worker is recorded as (boot id, pid, start time in clock ticks since boot): a pid alone
may be reused by an unrelated process once the worker is gone, but the pair (pid, start time)
names one process for the life of the machine, and the boot id says which machine (and boot)
the pair belongs to. Pure reads of /proc: no Dagster here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# Run tags that record a run's worker (set by the worker itself, before the run starts).
WORKER_TAGS = ("analytics/worker_boot", "analytics/worker_pid", "analytics/worker_started")


def boot_id() -> str:
    """This machine's current boot (one value per kernel boot, shared by every namespace)."""
    return (PROC / "sys/kernel/random/boot_id").read_text().strip()


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if there is no such process
    (or only its zombie is left: a worker that exited is gone, whoever reaps it)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: fields count from the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    state, ticks = fields[0], fields[19]
    return None if state in ("Z", "X") else int(ticks)


@dataclass(frozen=True)
class WorkerIdentity:
    boot: str
    pid: int
    started: int

    @classmethod
    def of(cls, pid: int) -> WorkerIdentity:
        started = start_ticks(pid)
        if started is None:
            raise ProcessLookupError(f"no process {pid}")
        return cls(boot_id(), pid, started)

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> WorkerIdentity | None:
        boot, pid, started = (tags.get(tag) for tag in WORKER_TAGS)
        if not (boot and pid and started):
            return None
        return cls(boot, int(pid), int(started))

    def tags(self) -> dict[str, str]:
        return dict(zip(WORKER_TAGS, (self.boot, str(self.pid), str(self.started)), strict=True))

    def on_this_machine(self) -> bool:
        return self.boot == boot_id()

    def alive(self) -> bool:
        """Only meaningful on this machine (see on_this_machine)."""
        return start_ticks(self.pid) == self.started
