"""Cost of one alert-rule evaluation (the `alerts` step of every ingest run) at scale.

Usage: .venv/bin/python bench/alerts/bench_rules.py [--rows 5000000] [--batch 2000] [--repeats 5]

Builds a warehouse with `--rows` journey events (90 days of history, 100,000 users, an action
mix like the simulator's, ingest batches in time order), evaluates the rules once to catch up,
then times `--repeats` incremental evaluations of a new batch of `--batch` events of the last
minutes (sign-ups, API errors, login failures, deployments included). Reports the median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from analytics_pipeline.alerts import outbox
from analytics_pipeline.alerts.evaluation import evaluate_rules
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.warehouse import connect

# (action, share of events)
MIX = [
    ("page_viewed", 0.60),
    ("clicked", 0.20),
    ("logged_in", 0.04),
    ("code_run", 0.05),
    ("topic_created", 0.03),
    ("project_created", 0.01),
    ("api_error", 0.015),
    ("login_failed", 0.01),
    ("signed_up", 0.005),
    ("deployment_started", 0.01),
    ("deployment_completed", 0.008),
    ("deployment_failed", 0.002),
]

FILL_SQL = """
INSERT INTO journey_events_by_user
    (source_topic, event_id, user_id, anonymous_id, ts, action, details, ingest_batch_id)
SELECT
    'portal-backend',
    'e' || i,
    'user-' || (hash(i) % 100000),
    NULL,
    $start + to_microseconds(CAST(i * ($span_us / $rows) AS BIGINT)),
    CASE
        {cases}
    END,
    json_object('deployment_id', 'd-' || (i // 7), 'path', '/projects', 'status', 503,
                'error_message', 'boom'),
    1 + i // 20000
FROM range($rows) AS t(i)
"""


def action_cases() -> str:
    cases, edge = [], 0.0
    for action, share in MIX[:-1]:
        edge += share
        cases.append(f"WHEN (hash(i * 31) % 1000000) < {int(edge * 1_000_000)} THEN '{action}'")
    cases.append(f"ELSE '{MIX[-1][0]}'")
    return "\n        ".join(cases)


def add_batch(conn, batch_id: int, size: int, now: datetime) -> None:
    conn.execute(
        FILL_SQL.format(cases=action_cases())
        .replace("'e' || i", f"'b{batch_id}-' || i")
        .replace("1 + i // 20000", str(batch_id)),
        {"start": now.replace(microsecond=0), "span_us": 0, "rows": size},
    )
    # spread them over the last ten minutes
    conn.execute(
        "UPDATE journey_events_by_user SET ts = ts - to_microseconds(CAST(random() * 6e8 AS "
        "BIGINT)) WHERE ingest_batch_id = $b",
        {"b": batch_id},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(UTC)
    thresholds = Thresholds()
    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(Path(tmp) / "rules.duckdb")
        started = time.perf_counter()
        span_us = 90 * 86_400 * 1_000_000
        start = datetime.fromtimestamp(now.timestamp() - 90 * 86_400, UTC)
        conn.execute(
            FILL_SQL.format(cases=action_cases()),
            {"start": start, "span_us": span_us, "rows": args.rows},
        )
        print(f"{args.rows:,} journey events in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        first = evaluate_rules(conn, now=now, thresholds=thresholds, slack_enabled=True)
        print(
            f"catch-up evaluation: {time.perf_counter() - started:.2f} s, "
            f"{first.new_alerts:,} alerts (last 24 h only)"
        )
        timings = []
        next_batch = outbox.newest_batch(conn, 0) + 1
        for _ in range(args.repeats):
            add_batch(conn, next_batch, args.batch, datetime.now(UTC))
            started = time.perf_counter()
            report = evaluate_rules(
                conn, now=datetime.now(UTC), thresholds=thresholds, slack_enabled=True
            )
            timings.append(time.perf_counter() - started)
            print(
                f"batch {next_batch}: {args.batch:,} events, {report.events_read:,} read by the "
                f"rules, {report.new_alerts:,} new alerts, {timings[-1] * 1000:.0f} ms"
            )
            next_batch += 1
        conn.close()
    print(f"\nmedian incremental evaluation: {statistics.median(timings) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
