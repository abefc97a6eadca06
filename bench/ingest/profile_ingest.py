"""Where our ingest path's time goes, per thread, on the bench topics of bench_ingest.py.

Usage: .venv/bin/python bench/ingest/profile_ingest.py [--events 300000] [--top 25]

Runs `bench_ingest.measure_ours` (the same runs of 50,000 messages into a scratch lake) once
under cProfile, with one profile for the polling thread and one for the lake-writer thread
(each background job is profiled where it runs), and prints both, plus each thread's CPU time
and how long polling waited for the writer. The wall clock is longer than in the benchmark
(cProfile costs ~1.5x on Python code), so compare shares, not rates.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


class _Timed:
    """A DuckDB connection whose `execute` adds its wall time to `statements` by the
    statement's first words (the rest passes through)."""

    def __init__(self, conn, statements: dict[str, list[float]]) -> None:
        self._conn, self._statements = conn, statements

    def execute(self, sql: str, *args):
        started = time.perf_counter()
        try:
            return self._conn.execute(sql, *args)
        finally:
            key = " ".join(sql.split()[:6])
            entry = self._statements.setdefault(key, [0.0, 0])
            entry[0] += time.perf_counter() - started
            entry[1] += 1

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    import bench_ingest

    from analytics_pipeline.ingest import background, writer

    writer_profile = cProfile.Profile()
    writer_cpu = [0.0]
    waited = [0.0]
    submit, wait = background.BackgroundWriter.submit, background.BackgroundWriter._wait

    def profiled_submit(self, job, then=None):
        def run():
            started = time.thread_time()
            writer_profile.enable()
            try:
                return job()
            finally:
                writer_profile.disable()
                writer_cpu[0] += time.thread_time() - started

        submit(self, run, then)

    def timed_wait(self):
        started = time.perf_counter()
        try:
            wait(self)
        finally:
            waited[0] += time.perf_counter() - started

    background.BackgroundWriter.submit = profiled_submit
    statements: dict[str, list[float]] = {}
    init = writer.BatchWriter.__init__

    def timed_init(self, conn, kind, now):
        init(self, _Timed(conn, statements), kind, now)

    writer.BatchWriter.__init__ = timed_init
    background.BackgroundWriter._wait = timed_wait

    topics = bench_ingest.topic_names(args.events)
    main_profile = cProfile.Profile()
    started, cpu = time.perf_counter(), time.thread_time()
    main_profile.enable()
    count = bench_ingest.measure_ours(topics)
    main_profile.disable()
    wall, main_cpu = time.perf_counter() - started, time.thread_time() - cpu
    assert threading.active_count() >= 1
    print(
        f"{count:,} events in {wall:.2f} s under cProfile; polling thread CPU {main_cpu:.2f} s "
        f"(of which waiting for the writer {waited[0]:.2f} s wall), writer thread CPU "
        f"{writer_cpu[0]:.2f} s"
    )
    print("writer statements (seconds, count), by their first words:")
    for what, (seconds, calls) in sorted(statements.items(), key=lambda kv: -kv[1][0]):
        print(f"  {seconds:7.2f} s {int(calls):5d}x  {what}")
    for name, profile in (("polling thread", main_profile), ("writer thread", writer_profile)):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        print(f"===== {name} =====")
        print(out.getvalue())


if __name__ == "__main__":
    main()
