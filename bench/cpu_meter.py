"""CPU-seconds of a group of processes, their exited children included (a cpuacct cgroup).

A run worker that has exited is gone from /proc, and one whose parent does not wait() for it
never reaches any cutime: summing /proc misses it. A cgroup counts every process started in it
for as long as the cgroup lives. Needs root and the cgroup-v1 cpuacct controller (as here);
`CpuMeter.available()` says whether it can be used.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


class CpuMeter:
    def __init__(self, name: str) -> None:
        self.path = CPUACCT / f"bench-{name}-{uuid.uuid4().hex[:6]}"
        self.path.mkdir()

    @staticmethod
    def available() -> bool:
        return os.access(CPUACCT, os.W_OK)

    def enter(self) -> None:
        """Put the calling process in the group (a Popen preexec_fn: before the exec)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float:
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        """Move what is left to the root group, then remove the group."""
        for pid in (self.path / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                (CPUACCT / "cgroup.procs").write_text(pid)
        with contextlib.suppress(OSError):
            self.path.rmdir()


def process_seconds(pid: int) -> float:
    """utime + stime of one live process and of its waited-for children, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")
