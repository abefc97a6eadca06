"""The funnel SQL over a range of days gives exactly the rows of one-day computations."""

from __future__ import annotations

from datetime import date, timedelta

from analytics_pipeline.funnel.stages import (
    compute_funnel,
    days_where_daily_differs_from_stages,
    days_with_wrong_stage_rows,
    days_with_wrong_stage_total,
)
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline_tests.funnel.synthetic import population
from analytics_pipeline_tests.journeys.conftest import TOPICS

FIRST = date(2026, 3, 1)
# 30 days (five of compute_funnel's week-long chunks, twice W): users keep signing up for 20
# of them, activating and going inactive. Each single day costs a funnel transaction.
LAST = date(2026, 3, 30)


def tables(conn):
    stages = conn.execute("SELECT * FROM users_by_activation_stage ORDER BY day, user_id")
    stage_rows = stages.fetchall()
    daily = conn.execute("SELECT * FROM funnel_daily ORDER BY day").fetchall()
    return stage_rows, daily


def test_a_thirty_day_range_equals_thirty_single_days(conn, raw):
    raw.add(population(FIRST, days=20, users=150, seed=21))
    update_journeys(conn, **TOPICS)

    compute_funnel(conn, FIRST, LAST, inactive_after_days=15)
    ranged = tables(conn)
    conn.execute("DELETE FROM users_by_activation_stage; DELETE FROM funnel_daily")
    day = FIRST
    while day <= LAST:
        compute_funnel(conn, day, day, inactive_after_days=15)
        day += timedelta(days=1)

    assert tables(conn) == ranged
    stages = {row[2] for row in ranged[0]}
    assert stages == {"signed_up", "activated", "active", "inactive"}
    assert len(ranged[1]) == 30


def test_the_funnel_checks_pass_on_computed_days_and_catch_broken_rows(conn, raw):
    raw.add(population(FIRST, days=10, users=40, seed=8))
    update_journeys(conn, **TOPICS)
    last = FIRST + timedelta(days=9)
    compute_funnel(conn, FIRST, last, inactive_after_days=15)
    assert days_with_wrong_stage_rows(conn, FIRST, last) == []
    assert days_with_wrong_stage_total(conn, FIRST, last) == []
    assert days_where_daily_differs_from_stages(conn, FIRST, last) == []

    broken = FIRST + timedelta(days=5)
    conn.execute(
        "INSERT INTO users_by_activation_stage (day, user_id, stage)"
        " SELECT day, user_id, 'active' FROM users_by_activation_stage WHERE day = ? LIMIT 1",
        [broken],
    )
    assert [row[0] for row in days_with_wrong_stage_rows(conn, FIRST, last)] == [broken]
    assert days_where_daily_differs_from_stages(conn, FIRST, last) == [broken]
    conn.execute("UPDATE funnel_daily SET inactive = inactive + 1 WHERE day = ?", [broken])
    assert [row[0] for row in days_with_wrong_stage_total(conn, FIRST, last)] == [broken]


def test_the_one_stage_check_catches_a_user_swapped_for_one_not_signed_up(conn, raw):
    raw.add(population(FIRST, days=10, users=40, seed=9))
    update_journeys(conn, **TOPICS)
    compute_funnel(conn, FIRST, FIRST, inactive_after_days=15)
    assert days_with_wrong_stage_rows(conn, FIRST, FIRST) == []
    [(victim,)] = conn.execute(
        "SELECT user_id FROM users_by_activation_stage WHERE day = ? LIMIT 1", [FIRST]
    ).fetchall()
    [(late_user,)] = conn.execute(
        "SELECT user_id FROM user_journeys WHERE signup_day > ? LIMIT 1", [FIRST]
    ).fetchall()
    # same number of rows, wrong set of users
    conn.execute(
        "UPDATE users_by_activation_stage SET user_id = ? WHERE day = ? AND user_id = ?",
        [late_user, FIRST, victim],
    )
    assert [row[0] for row in days_with_wrong_stage_rows(conn, FIRST, FIRST)] == [FIRST]
