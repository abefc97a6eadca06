"""Benchmark: every dashboard page at scale, for all time, while ingest batches commit.

Builds the journeys benchmark's history (base: 1,000,000 users / 20,000,000 journey events
over 180 days; bench/journeys/bench_journeys.py) in a scratch lake, computes the funnel for
all 180 days, adds alerts, dead letters and an offset ledger, then serves the dashboard from
it and, while a writer commits 50,000-event ingest batches plus the journeys step in a loop,
opens each page in Chromium and reads the time the page reports (script start to end) and the
browser's wall time (navigation to the run's end).

Usage: .venv/bin/python -m analytics_pipeline_tests.dashboard.bench_pages [--scale base]
           [--runs 5]
Needs the local stack (`make up`) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "journeys"))

import bench_journeys as history  # noqa: E402
from scratch_lake import scratch_lake  # noqa: E402

from analytics_pipeline.funnel.stages import compute_funnel  # noqa: E402
from analytics_pipeline.journeys.derive import update_journeys  # noqa: E402
from analytics_pipeline.warehouse import connect, transaction  # noqa: E402
from analytics_pipeline_tests.dashboard.server import (  # noqa: E402
    open_page,
    start_dashboard,
    wait_rendered,
)
from analytics_pipeline_tests.fixtures.warehouse import lake_environment  # noqa: E402

EXTRAS = [
    # 20,000 alerts over the history, a few failed and pending.
    """
    INSERT INTO alerts (alert_key, rule, user_id, entity, event_ts, status, attempts,
        last_error, created_at)
    SELECT 'bench:' || i, ['new_signup', 'deployment_failed', 'api_errors'][1 + i % 3],
        'u' || (i * 37 % $users), 'u' || (i * 37 % $users),
        $start + to_seconds(CAST(i * 777 % ($days * 86400) AS BIGINT)),
        CASE WHEN i % 97 = 0 THEN 'failed' WHEN i % 89 = 0 THEN 'pending' ELSE 'sent' END,
        CASE WHEN i % 97 = 0 THEN 3 ELSE 0 END,
        CASE WHEN i % 97 = 0 THEN 'invalid_blocks' END,
        $start + to_seconds(CAST(i * 777 % ($days * 86400) AS BIGINT))
    FROM range(20000) AS t(i)
    """,
    # 100,000 dead letters.
    """
    INSERT INTO dead_letter_events (topic, kafka_partition, kafka_offset, reason, detail,
        raw_value, raw_size, ingested_at, ingest_batch_id)
    SELECT 'portal-clickstream', i % 3, i, ['invalid_json', 'missing_field', 'bad_ts'][1 + i % 3],
        NULL, CAST('{"broken": ' || i AS BLOB), 12,
        $start + to_seconds(CAST(i * 151 % ($days * 86400) AS BIGINT)), 1
    FROM range(100000) AS t(i)
    """,
    """
    INSERT INTO ingest_offset_log (topic, kafka_partition, next_offset, updated_at, seq)
    SELECT topic, p, 1000000, now(), 1
    FROM (VALUES ('portal-clickstream'), ('portal-backend')) AS v(topic), range(3) AS t(p)
    """,
]
PAGES = {
    "Funnel": "/?range=all",
    "Journey explorer": "/journey?range=all&user={user}",
    "Alerts": "/alerts?range=all",
    "Pipeline health": "/health?range=all",
}


def build(lake, scale: str) -> str:
    """The history, the funnel of every day, and the extras; returns a busy user's id."""
    users, events = history.SCALES[scale]
    result = history.ScaleResult(scale, users, events)
    began = time.perf_counter()
    history.build_history(lake, users, events, result)
    print(f"history: generate {result.generate_s:.0f} s, rebuild {result.rebuild_s:.0f} s")
    conn = connect(lake)
    first = history.START
    last = history.START + timedelta(days=history.DAYS - 1)
    t = time.perf_counter()
    compute_funnel(conn, first, last, inactive_after_days=history.W)
    print(f"funnel for {history.DAYS} days: {time.perf_counter() - t:.0f} s")
    params = {
        "users": users,
        "days": history.DAYS,
        "start": datetime.combine(first, datetime.min.time(), UTC),
    }
    with transaction(conn):
        for sql in EXTRAS:
            conn.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
    busy = conn.execute(
        "SELECT user_id FROM user_journeys ORDER BY actions DESC, user_id LIMIT 1"
    ).fetchone()[0]
    conn.close()
    print(f"built in {time.perf_counter() - began:.0f} s; busiest user {busy}")
    return busy


def writer(lake, users: int, stop: threading.Event, batches: list[float]) -> None:
    """Ingest batches and the journeys step in a loop, as the pipeline does while people look."""
    conn = connect(lake)
    seed = 1000
    while not stop.is_set():
        began = time.perf_counter()
        history.add_batch(conn, users, seed, history.TYPICAL_ACTIVE)
        update_journeys(conn, **history.TOPICS)
        batches.append(time.perf_counter() - began)
        seed += 1
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="base", choices=list(history.SCALES))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with scratch_lake("dashbench") as lake, tempfile.TemporaryDirectory() as folder:
        busy = build(lake, args.scale)
        server = start_dashboard(lake_environment(lake), Path(folder))
        stop, batches = threading.Event(), []
        thread = threading.Thread(
            target=writer, args=(lake, history.SCALES[args.scale][0], stop, batches)
        )
        reported: dict[str, list[float]] = {name: [] for name in PAGES}
        wall: dict[str, list[float]] = {name: [] for name in PAGES}
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                for path in PAGES.values():  # warm-up: attach, imports
                    open_page(page, server.url + path.format(user=busy))
                thread.start()
                for _ in range(args.runs):
                    for name, path in PAGES.items():
                        began = time.perf_counter()
                        reported[name].append(open_page(page, server.url + path.format(user=busy)))
                        wait_rendered(page)
                        wall[name].append(time.perf_counter() - began)
                browser.close()
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
            server.stop()
    print(f"\n{args.scale}: pages for all time, medians of {args.runs} (max), seconds;")
    print(f"ingest batches committed meanwhile: {len(batches)}")
    print("| page | rendered (script) | browser wall |")
    print("|---|---:|---:|")
    for name in PAGES:
        print(
            f"| {name} | {statistics.median(reported[name]):.2f} ({max(reported[name]):.2f}) "
            f"| {statistics.median(wall[name]):.2f} ({max(wall[name]):.2f}) |"
        )


if __name__ == "__main__":
    main()
