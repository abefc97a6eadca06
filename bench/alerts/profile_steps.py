"""Where one small ingest run spends its time in our code: every DuckDB statement, timed, with
the DuckLake catalog queries it caused (issue 16, lever 3).

Usage (after `make up`):
    .venv/bin/python bench/alerts/profile_steps.py [--runs 5] [--warmup 2] [--partitions 3]
        [--json out.json] [--code DIR] [--no-slack] [--quiet]

Everything is real and private to the script: a fresh lake (its own catalog database on the
stack's PostgreSQL and a temporary data folder), a fresh backend topic on the stack's Kafka,
and the stack's Slack stub (unless --no-slack). Each run produces ONE sign-up event
(`POST /auth/signup`, a new user each time) and then does what one `ingest_backend` run does,
in one process, calling the same domain functions as the assets (defs/ingest/assets.py,
defs/journeys/assets.py, defs/alerts/assets.py):

  open      the run's first connection: attaching the lake (the run worker is a new process)
            and the schema check that `warehouse.connect` does once per process
  ingest    ingest_ranges, read_ledger, raw_checks.run_checks, tables_metadata (raw asset)
  journeys  update_journeys, events_without_raw_event, tables_metadata, mark_stale_reported
  alerts    evaluate_rules, the quick post (failed_recently, send_pending), status_counts,
            failed_alerts, table_metadata (alerts asset)

Every statement our code sends to DuckDB goes through a wrapper that times it and counts the
log records DuckDB wrote meanwhile (`CALL enable_logging(level = 'debug')`, then
`duckdb_logs`): `pg` is the catalog queries, one per PostgreSQL round trip (type
PostgresQueryLog: each COPY or query DuckLake sends, BEGIN and COMMIT included). DuckLake's
own type `DuckLakeMetadata` is counted too (`meta`), but in 1.5.5 it logs only a metadata
query's first execution in a process, so it reads 0 here. The statements are serialised by
the wrapper (the ingest loop's writer thread included), so each count belongs to one
statement. Logging costs a little time itself, so `ms` is slightly high.

The first `--warmup` runs are not reported (the first one creates the lake); the next `--runs`
are, as medians per statement. `--code DIR` imports `analytics_pipeline` from DIR instead (an
unpacked older commit, to measure before and after side by side on a noisy machine). `--json`
writes the medians for a later comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STEPS = ("open", "ingest", "journeys", "alerts")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs (medians)")
    parser.add_argument("--warmup", type=int, default=2, help="runs before measuring")
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the topic")
    parser.add_argument("--json", type=Path, help="write the medians here")
    parser.add_argument("--code", type=Path, help="import analytics_pipeline from this folder")
    parser.add_argument("--no-slack", action="store_true", help="Slack off (alerts skipped)")
    parser.add_argument("--quiet", action="store_true", help="print the step totals only")
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="LABEL=A.json,B.json",
        help="print the step totals of earlier --json outputs side by side (medians per label)",
    )
    return parser.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None and ARGS.code is not None:
    sys.path.insert(0, str(ARGS.code.resolve()))
sys.path.insert(1 if ARGS is not None and ARGS.code is not None else 0, str(REPO))

import duckdb  # noqa: E402

from analytics_pipeline.warehouse import connection as warehouse_connection  # noqa: E402
from analytics_pipeline.warehouse import lake as warehouse_lake  # noqa: E402


class Recorder:
    """Times statements and counts the catalog log records each one caused."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.step = "setup"
        self.rows: list[dict[str, Any]] = []
        self.enabled = False

    def start_logging(self) -> None:
        inst = warehouse_lake._instance_conn()
        inst.execute("CALL enable_logging(level = 'debug')")
        inst.execute("CALL truncate_duckdb_logs()")
        self.enabled = True

    def _drain(self) -> tuple[int, int]:
        inst = warehouse_lake._instance_conn()
        meta, pg = inst.execute(
            "SELECT count(*) FILTER (WHERE type = 'DuckLakeMetadata'), "
            "count(*) FILTER (WHERE type = 'PostgresQueryLog') FROM duckdb_logs"
        ).fetchone()
        inst.execute("CALL truncate_duckdb_logs()")
        return int(meta), int(pg)

    def measure(self, label: str, work):
        with self.lock:
            if self.enabled:
                self._drain()  # anything outside a statement is not counted against it
            started = time.perf_counter()
            try:
                return work()
            finally:
                ms = (time.perf_counter() - started) * 1000
                meta, pg = self._drain() if self.enabled else (0, 0)
                self.rows.append(
                    {"step": self.step, "label": label, "ms": ms, "meta": meta, "pg": pg}
                )


RECORDER = Recorder()
_SKIP_FILES = (os.path.basename(__file__), "named_sql.py")


def _label(sql: str) -> str:
    """Who sent the statement (function, or named statement of a .sql file) and its start."""
    frame = sys._getframe(2)
    named = None
    while frame is not None:
        name = os.path.basename(frame.f_code.co_filename)
        if name == "named_sql.py" and "label" in frame.f_locals:
            named = frame.f_locals["label"]
        if name not in _SKIP_FILES:
            break
        frame = frame.f_back
    where = "?"
    if frame is not None:
        module = os.path.splitext(os.path.basename(frame.f_code.co_filename))[0]
        where = f"{module}.{frame.f_code.co_name}"
    text = re.sub(r"--[^\n]*", " ", sql)
    text = re.sub(r"\s+", " ", text).strip()
    return f"{where} [{named}]" if named else f"{where}: {text[:48]}"


class TracedConnection:
    """A DuckDB connection whose `execute` calls go through the recorder."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = None):
        label = _label(sql)
        if parameters is None:
            return RECORDER.measure(label, lambda: self._conn.execute(sql))
        return RECORDER.measure(label, lambda: self._conn.execute(sql, parameters))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


_real_open_cursor = warehouse_connection.open_cursor


def _traced_open_cursor(lake, **kwargs):
    cursor = RECORDER.measure(
        "lake.open_cursor: ATTACH (once per process) and USE",
        lambda: _real_open_cursor(lake, **kwargs),
    )
    return TracedConnection(cursor)


warehouse_connection.open_cursor = _traced_open_cursor


@contextmanager
def step(name: str, walls: dict[str, float]):
    RECORDER.step = name
    started = time.perf_counter()
    try:
        yield
    finally:
        walls[name] = (time.perf_counter() - started) * 1000
        RECORDER.step = "between"


def _signup(user: str) -> bytes:
    return json.dumps(
        {
            "event_id": f"ev-{uuid.uuid4().hex}",
            "type": "api_request",
            "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "user_id": user,
            "request": {"method": "POST", "path": "/auth/signup", "status": 201, "duration_ms": 5},
        }
    ).encode()


def one_run(ctx: dict[str, Any], index: int) -> dict[str, float]:
    """Produce one event, then do what one ingest_backend run does; the steps' wall times."""
    from analytics_pipeline.alerts import outbox
    from analytics_pipeline.alerts.evaluation import evaluate_rules
    from analytics_pipeline.alerts.sender import SendReport, send_pending
    from analytics_pipeline.alerts.thresholds import (
        QUICK_POST_BUDGET_SECONDS,
        QUICK_POST_TIMEOUT_SECONDS,
        RETRY_DELAY_SECONDS,
        Thresholds,
    )
    from analytics_pipeline.defs.table_metadata import table_metadata, tables_metadata
    from analytics_pipeline.ingest import raw_checks
    from analytics_pipeline.ingest.loop import ingest_ranges
    from analytics_pipeline.ingest.ranges import OffsetRange
    from analytics_pipeline.ingest.writer import read_ledger
    from analytics_pipeline.journeys.derive import (
        events_without_raw_event,
        mark_stale_reported,
        update_journeys,
    )

    kafka, warehouse, slack, topic = ctx["kafka"], ctx["warehouse"], ctx["slack"], ctx["topic"]
    ctx["producer"].send(topic, value=_signup(f"u-{ctx['tag']}-{index}")).get(timeout=10)
    ctx["producer"].flush()
    # A run worker is a new process: the lake is attached again and the schema checked once.
    warehouse_lake.detach(warehouse.lake)
    warehouse_connection.forget_schema(warehouse.lake)
    walls: dict[str, float] = {}
    with step("open", walls), warehouse.connect() as conn:
        pass
    with step("ingest", walls):
        consumer = kafka.consumer()
        try:
            ends = kafka.end_offsets(topic, consumer)
            # what the sensor requests: from where the last run ended to the end offsets
            ranges = [OffsetRange(p, ctx["ends"].get(p, 0), end) for p, end in ends.items()]
            ranges = [r for r in ranges if r.end > r.start]
            with warehouse.connect() as conn:
                report = ingest_ranges(
                    consumer,
                    conn,
                    kind="backend",
                    topic=topic,
                    ranges=ranges,
                    max_batch=kafka.max_batch,
                    max_batch_bytes=kafka.max_batch_bytes,
                    topic_ends=ends,
                    warn=print,
                )
                read_ledger(conn, topic)
                results = raw_checks.run_checks(
                    conn,
                    kind="backend",
                    topic=topic,
                    warn_share=0.05,
                    batch_ids=report.batch_ids,
                    lost_by_partition=report.lost_by_partition,
                )
                tables_metadata(conn, ("raw_backend_events", "dead_letter_events"))
        finally:
            consumer.close()
        ctx["ends"] = ends
        assert report.stored == 1, report
        assert all(r.passed for r in results), results
    with step("journeys", walls):
        topics = {"clickstream_topic": ctx["clickstream_topic"], "backend_topic": topic}
        with warehouse.connect() as conn:
            result = update_journeys(conn, **topics)
            check = events_without_raw_event(conn, **topics, after_batch=result.watermark_before)
            tables_metadata(conn, ("user_identities", "journey_events", "user_journeys"))
        if result.unreported_stale_from is not None:
            with warehouse.connect() as conn:
                mark_stale_reported(conn, result.watermark, datetime.now(UTC))
        assert result.rows_added == 1 and check.passed, (result, check)
    with step("alerts", walls):
        now = datetime.now(UTC)
        with warehouse.connect() as conn:
            rules = evaluate_rules(
                conn,
                now=now,
                thresholds=Thresholds.from_settings(deploy_slow_minutes=10),
                slack_enabled=slack.enabled,
            )
            posted = SendReport()
            if slack.enabled and rules.new_alerts:
                # defs/alerts/assets.py post_new_alerts
                from datetime import timedelta

                if not outbox.failed_recently(
                    conn, since=now - timedelta(seconds=RETRY_DELAY_SECONDS)
                ):
                    client = slack.client(
                        timeout_s=QUICK_POST_TIMEOUT_SECONDS, max_rate_limit_wait_s=0
                    )
                    posted = send_pending(
                        conn,
                        client,
                        slack.alerts_channel,
                        budget_s=QUICK_POST_BUDGET_SECONDS,
                        fresh_only=True,
                    )
            counts = outbox.status_counts(conn)
            if counts["failed"]:
                outbox.failed_alerts(conn)
            table_metadata(conn, "alerts")
        assert rules.new_alerts == 1, rules
        assert posted.sent == (1 if slack.enabled else 0), posted
    return walls


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarise(runs: list[tuple[list[dict[str, Any]], dict[str, float]]]) -> dict[str, Any]:
    """Medians per step and per statement (statements matched by position within a step)."""
    steps: dict[str, Any] = {}
    for name in STEPS:
        per_run = [[r for r in rows if r["step"] == name] for rows, _ in runs]
        lengths = {len(rows) for rows in per_run}
        statements = []
        for position in range(min(lengths)):
            same = [rows[position] for rows in per_run]
            statements.append(
                {
                    "label": same[0]["label"],
                    "ms": _median([r["ms"] for r in same]),
                    "meta": _median([r["meta"] for r in same]),
                    "pg": _median([r["pg"] for r in same]),
                }
            )
        steps[name] = {
            "wall_ms": _median([walls[name] for _, walls in runs]),
            "statements": _median([len(rows) for rows in per_run]),
            "lake_ms": _median([sum(r["ms"] for r in rows) for rows in per_run]),
            "meta": _median([sum(r["meta"] for r in rows) for rows in per_run]),
            "pg": _median([sum(r["pg"] for r in rows) for rows in per_run]),
            "statement_counts_differ": len(lengths) > 1,
            "detail": statements,
        }
    total = {
        key: sum(steps[name][key] for name in STEPS)
        for key in ("wall_ms", "statements", "lake_ms", "meta", "pg")
    }
    return {"steps": steps, "total": total, "runs": len(runs)}


def report(summary: dict[str, Any], quiet: bool) -> None:
    if not quiet:
        for name in STEPS:
            data = summary["steps"][name]
            print(f"\n## {name}\n")
            print("| # | statement | ms | catalog queries |")
            print("|---|---|---:|---:|")
            for position, s in enumerate(data["detail"], start=1):
                label = s["label"].replace("|", "\\|")
                print(f"| {position} | `{label}` | {s['ms']:.1f} | {s['pg']:g} |")
            if data["statement_counts_differ"]:
                print(
                    "\n(statement counts differ between runs; positions beyond the shortest"
                    " run are left out of the detail)"
                )
    print(f"\n## totals (median of {summary['runs']} runs)\n")
    print("| step | statements | catalog queries | statement ms | step wall ms |")
    print("|---|---:|---:|---:|---:|")
    for name in STEPS:
        d = summary["steps"][name]
        print(
            f"| {name} | {d['statements']:g} | {d['pg']:g} | {d['lake_ms']:.0f} | "
            f"{d['wall_ms']:.0f} |"
        )
    t = summary["total"]
    print(
        f"| **all** | {t['statements']:g} | {t['pg']:g} | {t['lake_ms']:.0f} | {t['wall_ms']:.0f} |"
    )


def compare(specs: list[str]) -> None:
    """Step totals of several labelled sets of --json outputs: medians over each set."""
    labelled = []
    for spec in specs:
        label, _, files = spec.partition("=")
        labelled.append((label, [json.loads(Path(f).read_text()) for f in files.split(",")]))
    print("| step | " + " | ".join(label for label, _ in labelled) + " |")
    print("|---|" + "---:|" * len(labelled))
    for name in (*STEPS, "all"):
        cells = []
        for _, summaries in labelled:
            data = [s["total"] if name == "all" else s["steps"][name] for s in summaries]
            cells.append(
                f"{_median([d['statements'] for d in data]):g} st, "
                f"{_median([d['pg'] for d in data]):g} q, "
                f"{_median([d['lake_ms'] for d in data]):.0f} ms "
                f"({_median([d['wall_ms'] for d in data]):.0f} wall)"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(args: argparse.Namespace) -> None:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    import analytics_pipeline
    from analytics_pipeline.resources.kafka import KafkaResource
    from analytics_pipeline.resources.slack import SlackResource
    from analytics_pipeline.resources.warehouse import WarehouseResource
    from bench.scratch_lake import scratch_lake

    print(f"analytics_pipeline from {Path(analytics_pipeline.__file__).parent}", file=sys.stderr)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    tag = uuid.uuid4().hex[:8]
    topic = f"profile-backend-{tag}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, args.partitions, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    slack = SlackResource(
        bot_token=None
        if args.no_slack
        else os.environ.get("SLACK_BOT_TOKEN", "xoxb-local-development-token"),
        api_url=os.environ.get("SLACK_API_URL", "http://127.0.0.1:8765/api/"),
        alerts_channel="#profile-steps",
    )
    try:
        with scratch_lake("profile") as lake:
            ctx = {
                "kafka": KafkaResource(bootstrap_servers=bootstrap, backend_topic=topic),
                "warehouse": WarehouseResource(
                    catalog=lake.catalog, data_path=lake.data_path, password=lake.password
                ),
                "slack": slack,
                "topic": topic,
                "clickstream_topic": f"profile-clickstream-{tag}",
                "producer": producer,
                "tag": tag,
                "ends": {},
            }
            runs = []
            for index in range(args.warmup + args.runs):
                if index == args.warmup:
                    RECORDER.start_logging()
                RECORDER.rows = []
                walls = one_run(ctx, index)
                if index >= args.warmup:
                    runs.append((RECORDER.rows, walls))
                print(
                    f"run {index + 1}: "
                    + ", ".join(f"{k} {v:.0f} ms" for k, v in walls.items())
                    + (" (warm-up)" if index < args.warmup else ""),
                    file=sys.stderr,
                )
    finally:
        producer.close()
        admin.delete_topics([topic])
        admin.close()
    summary = summarise(runs)
    report(summary, args.quiet)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    assert ARGS is not None
    if ARGS.compare:
        compare(ARGS.compare)
    else:
        main(ARGS)
