"""Every stage boundary of SPEC §6, table-driven, for the day D with W = 15.

The cases are users of one lake: each case's events belong to a user (and browsers) of its
own, so the funnel treats them as it would alone, and one journeys update and one funnel
computation serve them all (each case in a lake of its own cost ~2.5 CPU-s).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from analytics_pipeline.funnel.stages import STAGES, FunnelDay, compute_funnel, funnel_days
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline.warehouse import Lake, connect
from analytics_pipeline_tests.journeys.conftest import TOPICS
from analytics_pipeline_tests.journeys.raw_events import (
    Event,
    RawBatches,
    api,
    at,
    code_run,
    deployment,
    identify,
    page_view,
    signup,
    topic_created,
)

D = date(2026, 3, 20)
W = 15
USER = "u1"


def ago(n: int, hour: int = 12) -> str:
    return at(D - timedelta(days=n), hour)


@dataclass
class Case:
    events: list[Event]
    stage: str | None  # None: the user is not in the funnel of D
    flags: dict[str, object] = field(default_factory=dict)


CASES = {
    "signed up, no meaningful action": Case([signup(USER, ago(30))], "signed_up"),
    "meaningful W-1 days before D is still activated": Case(
        [signup(USER, ago(30)), topic_created(USER, ago(W - 1))],
        "activated",
        {"newly_inactive": False, "last_meaningful_day": D - timedelta(days=W - 1)},
    ),
    "meaningful exactly W days before D is newly inactive": Case(
        [signup(USER, ago(30)), code_run(USER, ago(W))],
        "inactive",
        {"newly_inactive": True},
    ),
    "meaningful W+1 days before D is inactive, not newly": Case(
        [signup(USER, ago(30)), code_run(USER, ago(W + 1))],
        "inactive",
        {"newly_inactive": False},
    ),
    "two meaningful days, latest W-1 days before D is active": Case(
        [signup(USER, ago(40)), code_run(USER, ago(30)), code_run(USER, ago(W - 1))],
        "active",
        {"meaningful_days": 2},
    ),
    "two meaningful days, latest W days before D is inactive": Case(
        [signup(USER, ago(40)), code_run(USER, ago(30)), code_run(USER, ago(W))],
        "inactive",
        {"meaningful_days": 2, "newly_inactive": True},
    ),
    "two meaningful actions on one day count as one day": Case(
        [signup(USER, ago(10)), code_run(USER, ago(3, 9)), topic_created(USER, ago(3, 18))],
        "activated",
        {"meaningful_days": 1},
    ),
    "first meaningful action on D itself is newly activated": Case(
        [signup(USER, ago(5)), deployment(USER, "started", ago(0, 8))],
        "activated",
        {"newly_activated": True},
    ),
    "second meaningful day on D makes the user active, not newly activated": Case(
        [signup(USER, ago(5)), code_run(USER, ago(2)), deployment(USER, "completed", ago(0))],
        "active",
        {"newly_activated": False, "meaningful_days": 2},
    ),
    "meaningful action after D does not count on D": Case(
        [signup(USER, ago(5)), code_run(USER, ago(-1))], "signed_up"
    ),
    "failed deployments and projects are not meaningful": Case(
        [
            signup(USER, ago(5)),
            deployment(USER, "failed", ago(1)),
            api(USER, "POST", "/projects", 201, ago(1)),
        ],
        "signed_up",
    ),
    "sign-up on D is a new sign-up": Case(
        [signup(USER, ago(0, 23))], "signed_up", {"new_signup": True}
    ),
    "sign-up the day before is not a new sign-up on D": Case(
        [signup(USER, ago(1))], "signed_up", {"new_signup": False}
    ),
    "sign-up in the last second of D counts on D": Case(
        [signup(USER, f"{D.isoformat()}T23:59:59.999+00:00")], "signed_up", {"new_signup": True}
    ),
    "sign-up at 01:00+02:00 on D+1 is 23:00 UTC on D": Case(
        [signup(USER, f"{(D + timedelta(days=1)).isoformat()}T01:00:00+02:00")],
        "signed_up",
        {"new_signup": True},
    ),
    "sign-up after D is not in the funnel of D": Case(
        [signup(USER, f"{(D + timedelta(days=1)).isoformat()}T00:00:00Z")], None
    ),
    "user with actions but no sign-up is inferred at the first action": Case(
        [api(USER, "POST", "/auth/login", 200, ago(3)), page_view("a1", ago(4), user_id=USER)],
        "signed_up",
        {"signup_inferred": True, "new_signup": False},
    ),
    "inferred sign-up with a meaningful first action": Case(
        [deployment(USER, "started", ago(0))],
        "activated",
        {"signup_inferred": True, "new_signup": True, "newly_activated": True},
    ),
    "explicit sign-up wins over earlier browser actions": Case(
        [page_view("a1", ago(9)), identify("a1", USER, ago(8)), signup(USER, ago(2))],
        "signed_up",
        {"signup_inferred": False},
    ),
    "browser events of an unknown visitor stay out": Case(
        [page_view("a-unknown", ago(3)), page_view("a-unknown", ago(2))], None
    ),
    "a user whose only actions come after D is not yet signed up": Case(
        [api(USER, "POST", "/auth/login", 200, ago(-2))], None
    ),
}


FLAGS = (
    "new_signup",
    "newly_activated",
    "newly_inactive",
    "signup_inferred",
    "meaningful_days",
    "last_meaningful_day",
)


def case_user(name: str) -> str:
    return f"case-{list(CASES).index(name):02d}"


def as_case(events: list[Event], user: str) -> list[Event]:
    """The case's events with USER and every anonymous id made the case's own."""
    renamed = []
    for event in events:
        event = dict(event)
        if event.get("user_id") == USER:
            event["user_id"] = user
        if "anonymous_id" in event:
            event["anonymous_id"] = f"{user}/{event['anonymous_id']}"
        renamed.append(event)
    return renamed


@dataclass(frozen=True)
class DayD:
    """Day D of every case's user: their users_by_activation_stage rows, and funnel_daily."""

    rows: dict[str, tuple]  # user -> (stage, *FLAGS)
    day: FunnelDay
    lake: Lake


@pytest.fixture(scope="module")
def day_d(new_module_lake: Callable[..., Lake]) -> DayD:
    """Every case's events in one ingest batch, one journeys update, day D computed once."""
    lake = new_module_lake("cases")
    with closing(connect(lake)) as conn:
        RawBatches(conn).add(
            [
                event
                for name, case in CASES.items()
                for event in as_case(case.events, case_user(name))
            ]
        )
        update_journeys(conn, **TOPICS)
        [day] = compute_funnel(conn, D, D, inactive_after_days=W)
        rows = conn.execute(
            f"SELECT user_id, stage, {', '.join(FLAGS)} FROM users_by_activation_stage"
            " WHERE day = ?",
            [D],
        ).fetchall()
    return DayD({user: tuple(values) for user, *values in rows}, day, lake)


@pytest.mark.parametrize("case", CASES, ids=CASES.keys())
def test_stage_of_one_user_on_day_d(day_d: DayD, case: str):
    user, expected = case_user(case), CASES[case]
    if expected.stage is None:
        assert user not in day_d.rows
        return
    stage, *values = day_d.rows[user]
    got = dict(zip(FLAGS, values, strict=True))
    assert stage == expected.stage
    assert {k: got[k] for k in expected.flags} == expected.flags


def test_day_d_counts_the_cases_users_by_stage_and_flag(day_d: DayD):
    """funnel_daily of D agrees with the cases: one user per case in its stage, none for the
    cases outside the funnel, and the day's new/newly counts are the users' flags."""
    in_funnel = [case for case in CASES.values() if case.stage is not None]
    assert len(day_d.rows) == len(in_funnel)
    for stage in STAGES:
        assert getattr(day_d.day, stage) == sum(1 for c in in_funnel if c.stage == stage), stage
    assert day_d.day.signed_up_users == len(in_funnel)
    for column, flag in (
        ("new_signups", "new_signup"),
        ("newly_activated", "newly_activated"),
        ("newly_inactive", "newly_inactive"),
    ):
        index = 1 + FLAGS.index(flag)
        assert getattr(day_d.day, column) == sum(int(row[index]) for row in day_d.rows.values())


def test_inactive_after_days_is_the_configured_w(conn, raw):
    raw.add(signup(USER, ago(10)), code_run(USER, ago(3)))
    update_journeys(conn, **TOPICS)
    [w3] = compute_funnel(conn, D, D, inactive_after_days=3)
    assert (w3.inactive, w3.newly_inactive) == (1, 1)
    [w4] = compute_funnel(conn, D, D, inactive_after_days=4)
    assert (w4.activated, w4.inactive) == (1, 0)


def test_recomputing_a_day_replaces_its_rows(conn, raw):
    raw.add(signup(USER, ago(1)), signup("u2", ago(1)))
    update_journeys(conn, **TOPICS)
    first = compute_funnel(conn, D, D, inactive_after_days=W)
    second = compute_funnel(conn, D, D, inactive_after_days=W)
    assert first == second == funnel_days(conn, D, D)
    stage_rows = conn.execute("SELECT count(*) FROM users_by_activation_stage").fetchone()
    assert stage_rows == (2,)


def test_a_day_without_users_has_a_row_of_zeros(day_d: DayD):
    """A day before every case's first event, in the cases' lake (after day_d was read)."""
    empty = D - timedelta(days=100)
    with closing(connect(day_d.lake)) as conn:
        [day] = compute_funnel(conn, empty, empty, inactive_after_days=W)
    assert day.counts() == dict.fromkeys(day.counts(), 0)
