"""Readers and long jobs never disturb the stream: through the real daemon, a separate reader
process holds its snapshot open for a second at a time and a 90-day funnel backfill runs while
events are ingested and alerted on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path

import pytest
from dagster import DagsterRunStatus, RunsFilter

from analytics_pipeline.warehouse import connect, reading
from analytics_pipeline_tests.alerts.test_alerts_end_to_end import run_failures, signup_event
from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, wait_until
from analytics_pipeline_tests.ingest.test_ingest import page_view

# Each transaction reads the table, holds its snapshot open for a second while ingest commits
# (a sleep: what a slow query does to the lake, without burning a core), then reads it again.
# It stops when the test creates the stop file; the bound only ends a reader the test forgot
# (exit 3, so that is never mistaken for success).
READER = """
import json, sys, time
from pathlib import Path
from analytics_pipeline.settings import load_settings
from analytics_pipeline.warehouse import Lake, reading

out, stop, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + seconds
ROWS = "SELECT count(*), sum(hash(event_id)) FROM raw_clickstream_events"  # reads the files
with reading(Lake.from_settings(load_settings())) as conn, open(out, "w") as log:
    while not stop.exists():
        if time.monotonic() > deadline:
            sys.exit(3)
        conn.execute("BEGIN TRANSACTION")
        before = conn.execute(ROWS).fetchone()
        time.sleep(1.0)
        after = conn.execute(ROWS).fetchone()
        conn.execute("COMMIT")
        log.write(json.dumps([before[0], after[0], before[1] == after[1]]) + "\\n")
        log.flush()
"""


# Bounds for a loaded machine: in a fresh-clone run (3 test workers, this test's reader and
# backfill beside them) the first ingest run's worker took a minute to start and its steps 35 s.
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_slow_reader_and_a_backfill_never_fail_or_block_ingest_and_alerts(
    new_topics,
    produce,
    dagster_daemon,
    dagster_instance,
    dagster_home,
    slack_stub,
    lake,
    lake_env,
    tmp_path,
    request,
):
    clickstream, backend = new_topics(partitions=1)
    env = {
        "ANALYTICS_CLICKSTREAM_TOPIC": clickstream,
        "ANALYTICS_BACKEND_TOPIC": backend,
        **lake_env,
        "ANALYTICS_REPORTS_DIR": str(tmp_path / "reports"),
        "SLACK_BOT_TOKEN": slack_stub.token,
        "SLACK_API_URL": slack_stub.api_url,
        "SLACK_ALERTS_CHANNEL": "#portal-alerts",
    }
    connect(lake).close()  # the tables exist before the reader starts
    reader_log, stop_reader = tmp_path / "reader.jsonl", tmp_path / "reader.stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(reader_log), str(stop_reader), "540"],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
    )
    request.addfinalizer(reader.kill)  # a failed test does not leave it to its bound
    daemon = dagster_daemon(env)
    started = datetime.now(UTC)
    backfill = subprocess.Popen(
        [
            str(REPO_ROOT / ".venv" / "bin" / "dagster"),
            "asset",
            "materialize",
            "--select",
            "users_by_activation_stage,funnel_daily",
            "--partition-range",
            "2026-08-01...2026-10-29",
            "-m",
            "analytics_pipeline.definitions",
        ],
        env={**os.environ, **env, "DAGSTER_HOME": str(dagster_home)},
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def reader_saw() -> list[int]:
        assert reader.poll() is None, f"the reader exited with {reader.returncode}"
        return [line[0] for line in read_log(reader_log)]

    # Nothing is produced before the reader's first snapshot: it reads from before the first
    # commit until after the last (below), so every commit happens under open readers.
    wait_until(reader_saw, timeout=120, message="the reader never finished a transaction")
    users = [f"user-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    for burst, user in enumerate(users):
        produce(clickstream, [page_view(f"c{burst}-{i}") for i in range(300)], partition=0)
        produce(backend, [signup_event(user)], partition=0)
        wait_until(
            lambda n=burst: reading_count(lake) >= 300 * (n + 1),
            timeout=240,
            interval=0.5,
            message=f"burst {burst} not ingested; see {daemon.log_path}",
        )

    def posted() -> dict[str, int]:
        assert daemon.alive(), daemon.log_tail()
        texts = [m["text"] for m in slack_stub.messages("#portal-alerts")]
        return {user: sum(f"`{user}`" in text for text in texts) for user in users}

    wait_until(lambda: all(posted().values()), timeout=120, message="a sign-up was not alerted")
    output, _ = backfill.communicate(timeout=300)
    assert backfill.returncode == 0, output[-3000:]
    wait_until(lambda: 900 in reader_saw(), timeout=60, message="the reader never saw it all")
    stop_reader.touch()
    assert reader.wait(timeout=60) == 0

    failed = dagster_instance.get_run_records(
        RunsFilter(statuses=[DagsterRunStatus.FAILURE], created_after=started)
    )
    assert not failed, run_failures(dagster_instance, failed)
    assert posted() == dict.fromkeys(users, 1)
    with reading(lake) as conn:
        stored = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM raw_clickstream_events"
        ).fetchone()
        batch_sizes = [
            n
            for (n,) in conn.execute(
                "SELECT count(*) FROM raw_clickstream_events "
                "GROUP BY ingest_batch_id ORDER BY ingest_batch_id"
            ).fetchall()
        ]
        funnel_days = conn.execute(
            "SELECT count(*) FROM funnel_daily WHERE day BETWEEN '2026-08-01' AND '2026-10-29'"
        ).fetchone()
    assert stored == (900, 900)
    assert funnel_days == (90,)
    whole_batches = {0, *accumulate(batch_sizes)}
    seen = read_log(reader_log)
    assert len(seen) >= 3, "the reader held its snapshot several times meanwhile"
    assert seen[0][0] == 0, "the reader's first snapshot was before any ingest"
    assert all(before == after and same for before, after, same in seen), (
        "a snapshot changed under a reader"
    )
    assert {before for before, _, _ in seen} <= whole_batches, "a reader saw part of a batch"


def read_log(path: Path) -> list[list]:
    """The reader's transactions so far: [rows at the start, rows at the end, same rows]
    (whole lines only: the reader may be writing the next one)."""
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.split("\n")[:-1]]


def reading_count(lake) -> int:
    with reading(lake) as conn:
        return conn.execute("SELECT count(*) FROM raw_clickstream_events").fetchone()[0]
