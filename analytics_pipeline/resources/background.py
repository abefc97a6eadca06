"""Background runs (the funnel and its backfills, the daily report) yield the CPU to the stream.

On 2 cores a 90-day backfill took the CPU that ingest runs need: their produce-to-stored
latency grew 3.7x. A run of background work lowers its process's scheduling priority, so
ingest, journeys and alerts run first whenever they need a core while the background work
still uses every idle one.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_NICENESS = 19
_THREADS = Path("/proc/self/task")


def yield_cpu(niceness: int) -> int:
    """Raise the niceness of every thread of this process to at least `niceness`; threads and
    processes started afterwards inherit it. Returns the lowest niceness now in effect.

    Without privileges a niceness can't be lowered again, so call this only in a process that
    runs background work to its end (a run worker or a CLI run), never in a shared one.
    """
    niceness = min(niceness, MAX_NICENESS)
    # On Linux the niceness is per thread: DuckDB's worker threads exist already.
    threads = [int(name) for name in os.listdir(_THREADS)] if _THREADS.is_dir() else [0]
    for thread in threads:
        try:
            if os.getpriority(os.PRIO_PROCESS, thread) < niceness:
                os.setpriority(os.PRIO_PROCESS, thread, niceness)
        except ProcessLookupError:  # the thread ended meanwhile
            continue
    return min(_niceness(thread) for thread in threads)


def _niceness(thread: int) -> int:
    try:
        return os.getpriority(os.PRIO_PROCESS, thread)
    except ProcessLookupError:
        return MAX_NICENESS
