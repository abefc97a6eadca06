"""`analytics-pipeline sql` as a user runs it: the real CLI in a subprocess on the seeded lake."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from analytics_pipeline_tests.dashboard.conftest import SeededLake
from analytics_pipeline_tests.fixtures.stack import VENV_BIN

ALERTS_QUERY = (
    "SELECT rule, user_id, status, attempts, last_error FROM alerts ORDER BY rule, user_id"
)


def sql(
    seeded_lake: SeededLake, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "analytics-pipeline"), "sql", *args],
        env={**os.environ, **seeded_lake.env()},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_query_prints_a_table(seeded_lake: SeededLake) -> None:
    result = sql(seeded_lake, ALERTS_QUERY)
    assert result.returncode == 0, result.stderr
    assert result.stdout == textwrap.dedent(
        """\
        rule              | user_id                   | status  | attempts | last_error
        ------------------+---------------------------+---------+----------+--------------------
        api_errors        | bob                       | pending |        2 | HTTP 503 from Slack
        deployment_failed | ada                       | failed  |        3 | invalid_blocks
        login_trouble     | dave                      | sent    |        0 | NULL
        new_signup        | <script>alert(1)</script> | skipped |        0 | NULL
        new_signup        | frank                     | sent    |        0 | NULL
        (5 rows)
        """
    )


def test_csv(seeded_lake: SeededLake) -> None:
    result = sql(
        seeded_lake,
        "SELECT rule, user_id, attempts, last_error FROM alerts WHERE rule = 'new_signup' "
        "ORDER BY user_id",
        "--format",
        "csv",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "rule,user_id,attempts,last_error\n"
        "new_signup,<script>alert(1)</script>,0,\n"
        "new_signup,frank,0,\n"
    )


def test_json_keeps_numbers_and_json_columns(seeded_lake: SeededLake) -> None:
    result = sql(
        seeded_lake,
        "SELECT action, details, day, n FROM journey_events, "
        "(SELECT DATE '2026-01-02' AS day, 1.5 AS n) WHERE user_id = 'ada' "
        "AND action = 'deployment_failed'",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == textwrap.dedent(
        """\
        [
          {
            "action": "deployment_failed",
            "details": {
              "deployment_id": "dep-ada-1",
              "deployment_status": "failed",
              "error_message": "image pull failed"
            },
            "day": "2026-01-02",
            "n": 1.5
          }
        ]
        """
    )


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO alerts (alert_key, rule, event_ts, status, created_at) "
        "VALUES ('k', 'new_signup', now(), 'sent', now())",
        "DELETE FROM alerts",
        "UPDATE alerts SET status = 'sent'",
        "DROP TABLE alerts",
        "USE memory; CREATE TABLE t (a INTEGER)",
        "COPY alerts TO 'alerts.csv'",
        "CALL ducklake_expire_snapshots('analytics', older_than => now())",
        "SELECT 1; DELETE FROM alerts",
    ],
)
def test_a_write_is_refused(seeded_lake: SeededLake, statement: str) -> None:
    result = sql(seeded_lake, statement)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "refused" in result.stderr and "read-only" in result.stderr
    assert "Traceback" not in result.stderr
    count = sql(seeded_lake, "SELECT count(*) AS n FROM alerts", "--format", "csv")
    assert count.stdout == "n\n5\n"


def test_the_prompt_runs_statements_and_refuses_writes(seeded_lake: SeededLake) -> None:
    result = sql(
        seeded_lake,
        stdin="SELECT count(*) AS n\nFROM alerts;\nDELETE FROM alerts;\n.quit\n",
    )
    assert result.returncode == 0, result.stderr
    assert "n\n-\n5\n(1 row)\n" in result.stdout
    assert "error: refused: DELETE" in result.stderr
    assert result.stdout.count("lake> ") == 3 and "  ..> " in result.stdout


def test_an_unreachable_catalog_is_one_clear_line(seeded_lake: SeededLake) -> None:
    env = {
        **seeded_lake.env(),
        "ANALYTICS_LAKE_CATALOG": "postgres:dbname=nowhere host=127.0.0.1 port=9 user=dagster",
    }
    result = subprocess.run(
        [str(VENV_BIN / "analytics-pipeline"), "sql", "SELECT 1"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot open the lake catalog (database 'nowhere' on 127.0.0.1:9)" in result.stderr
    assert "make up" in result.stderr
    assert env["ANALYTICS_LAKE_PASSWORD"] not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_lake_nothing_wrote_to_yet_says_what_to_run(lake_env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "analytics-pipeline"), "sql", "SELECT * FROM funnel_daily"],
        env={**os.environ, **lake_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "has no tables yet" in result.stderr and "make run" in result.stderr
