"""The ingest run's quick post and a send run racing for the same pending alert post it once
(issue 12). On the daemon the `ingest` pool keeps the two runs apart; here the quick post runs
in a run process of its own (`dagster asset materialize`) and the send run in the test's
process, outside any pool (as a run started by hand would be), so the outbox's claim alone
must hold."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics_pipeline.alerts import outbox
from analytics_pipeline.alerts.sender import POSTING
from analytics_pipeline.warehouse import Lake, connect
from analytics_pipeline_tests.alerts.conftest import AlertsRunner, Journey, minutes_ago
from analytics_pipeline_tests.alerts.test_send_alerts import observation
from analytics_pipeline_tests.fixtures.slack import SlackStub
from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, VENV_BIN, wait_until

# Slack holds the quick post this long, under the quick post's 5 s timeout: the send run (warm,
# in this process) reads the outbox and tries the alert within it.
QUICK_POST_HELD_S = 4.5


def held_by_a_poster(journey: Journey) -> bool:
    alerts = journey.alerts()
    return bool(alerts) and alerts[0]["last_error"] == POSTING


def start_quick_post(
    dagster_home: Path, lake_env: dict[str, str], slack_stub: SlackStub, log: Path
) -> subprocess.Popen[bytes]:
    """The alerts asset (rules, then the quick post) in a run process, as an ingest run has it."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        **lake_env,
        "SLACK_BOT_TOKEN": slack_stub.token,
        "SLACK_API_URL": slack_stub.api_url,
        "SLACK_ALERTS_CHANNEL": "#portal-alerts",
    }
    command = [str(VENV_BIN / "dagster"), "asset", "materialize", "--select", "alerts"]
    with log.open("wb") as sink:
        return subprocess.Popen(
            [*command, "-m", "analytics_pipeline.definitions"],
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


@pytest.mark.parametrize("history", ["not in history yet", "in history already"])
def test_a_send_run_during_the_quick_post_leaves_the_alert_to_it(
    journey: Journey,
    alerts_runner: AlertsRunner,
    slack_stub: SlackStub,
    dagster_home: Path,
    lake_env: dict[str, str],
    tmp_path: Path,
    history: str,
) -> None:
    alerts_runner.send()  # warm: the racing send run must reach the outbox quickly
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    # `delay`: Slack stores the message only after the hold, so the send run's history lookup
    # cannot find it and only the claim stops a second post. `answer_after`: stored at once,
    # answered late, so the lookup finds it.
    fault = "delay" if history == "not in history yet" else "answer_after"
    slack_stub.fail("chat.postMessage", [{fault: QUICK_POST_HELD_S}])

    log = tmp_path / "quick-post.log"
    quick = start_quick_post(dagster_home, lake_env, slack_stub, log)
    try:

        def claimed() -> bool:
            assert quick.poll() is None, log.read_text(errors="replace")[-3000:]
            return held_by_a_poster(journey)

        wait_until(claimed, timeout=180, interval=0.05, message="the quick post never claimed")
        send = alerts_runner.send()
        assert quick.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        if quick.poll() is None:
            quick.kill()

    assert send.success
    (message,) = slack_stub.messages()
    (alert,) = journey.alerts()
    assert (alert["status"], alert["slack_ts"], alert["attempts"]) == ("sent", message["ts"], 0)
    assert len(slack_stub.calls("chat.postMessage")) == 1
    sent = observation(send)
    assert sent["sent_now"] == 0
    if history == "not in history yet":
        assert sent["held_by_another_poster_now"] == 1, "the send run did not race the post"
    else:
        assert sent["found_in_history_now"] == 1, "the send run did not race the post"


def test_two_posters_claiming_at_once_get_the_alert_once(
    journey: Journey, alerts_runner: AlertsRunner, lake: Lake
) -> None:
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    conns = [connect(lake) for _ in range(2)]
    try:
        (alert,) = outbox.pending_alerts(conns[0], 10)
        now = datetime.now(UTC)

        def take(conn: duckdb.DuckDBPyConnection) -> bool:
            return outbox.claim(conn, alert, posting=POSTING, now=now, lease=timedelta(minutes=3))

        with ThreadPoolExecutor(max_workers=2) as pool:
            won = list(pool.map(take, conns))
        assert sorted(won) == [False, True]
        # A claim whose mark has outlived the lease is a poster that stopped mid-post.
        (held,) = outbox.pending_alerts(conns[0], 10)
        later = now + timedelta(minutes=4)
        assert outbox.claim(conns[1], held, posting=POSTING, now=later, lease=timedelta(minutes=3))
    finally:
        for conn in conns:
            conn.close()
