"""Personas: who a simulated person is decides their whole journey.

Each persona exercises rules of SPEC §5-7: bouncers stay `signed_up`, builders become
`active`, churners turn `inactive`, failing and slow deployers raise deployment alerts,
people stuck at login raise `login_trouble`, anonymous visitors stay outside the funnel.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from analytics_pipeline.simulate.journey import Journey

# Share of simulated people per persona (each person gets exactly one).
PERSONA_WEIGHTS: dict[str, float] = {
    "visitor": 0.14,
    "bouncer": 0.18,
    "stuck_at_login": 0.09,
    "builder": 0.27,
    "failing_deployer": 0.11,
    "slow_deployer": 0.09,
    "churner": 0.12,
}
PERSONAS = tuple(PERSONA_WEIGHTS)
_CUMULATIVE_WEIGHTS = tuple(
    sum(list(PERSONA_WEIGHTS.values())[: i + 1]) for i in range(len(PERSONA_WEIGHTS))
)

# Deployments that run longer than this are "slow" (SPEC §7 default: 10 minutes).
SLOW_DEPLOY_MIN_S = 12 * 60
SLOW_DEPLOY_MAX_S = 45 * 60


def choose_persona(rng: random.Random) -> str:
    return rng.choices(PERSONAS, cum_weights=_CUMULATIVE_WEIGHTS)[0]


def _sorted_days(rng: random.Random, count: int, first: int, last: int) -> list[int]:
    return sorted(rng.sample(range(first, last + 1), count))


def _work(j: Journey, actions: int) -> None:
    """Meaningful work: topics and code runs on the current project."""
    for _ in range(actions):
        if j.rng.random() < 0.35:
            j.create_topic()
        else:
            j.run_code()


def _first_session(j: Journey, *, with_project: bool) -> None:
    """Arrive anonymously, look around, sign up (and maybe start a project)."""
    rng = j.rng
    j.begin_session(j.arrival_ms)
    j.browse(rng.randint(0, 3))
    j.sign_up()
    if with_project:
        j.create_project()
        j.create_topic()
        if rng.random() < 0.5:
            j.run_code()
    j.browse(rng.randint(0, 3))
    j.end_session()


def _return_session(j: Journey, day: float) -> None:
    """Come back on a later day: sometimes on a new device, sometimes logged out.

    The first return always starts logged out (the sign-up session has expired).
    """
    rng = j.rng
    first_return = j.session_no == 1
    expired = rng.random() < 0.5 or first_return
    j.begin_session(j.day(day), new_device=rng.random() < 0.15, expired=expired)
    j.log_in()
    j.browse(rng.randint(1, 3))


def visitor(j: Journey) -> None:
    """Reads the marketing site on one to three days, never signs up."""
    rng = j.rng
    j.begin_session(j.arrival_ms)
    j.browse(rng.randint(1, 6))
    j.end_session()
    for day in _sorted_days(rng, rng.choice((0, 0, 1, 2)), 1, 10):
        j.begin_session(j.day(day))
        j.browse(rng.randint(1, 4))
        j.end_session()


def bouncer(j: Journey) -> None:
    """Signs up, maybe logs in once more, then nothing meaningful ever."""
    rng = j.rng
    _first_session(j, with_project=False)
    if rng.random() < 0.5:
        _return_session(j, rng.uniform(1, 6))
        j.end_session()


def stuck_at_login(j: Journey) -> None:
    """Signs up, later fails to log in 3-6 times within minutes; half never get in."""
    rng = j.rng
    _first_session(j, with_project=False)
    j.begin_session(j.day(rng.uniform(0.5, 4)), new_device=rng.random() < 0.5, expired=True)
    j.fail_logins(rng.randint(3, 6))
    if rng.random() < 0.5:
        j.wait(20, 120)
        j.log_in()
        j.browse(rng.randint(1, 4))
    else:
        j.page_view("/forgot-password")
    j.end_session()


def builder(j: Journey) -> None:
    """Creates a project and keeps coming back: topics, runs, successful deployments."""
    rng = j.rng
    _first_session(j, with_project=True)
    for day in _sorted_days(rng, rng.randint(3, 8), 1, 20):
        _return_session(j, day)
        _work(j, rng.randint(1, 4))
        if rng.random() < 0.55:
            j.deploy("completed", rng.uniform(45, 420))
        if rng.random() < 0.1:
            j.create_project()
        if rng.random() < 0.08:
            j.error_burst()
        j.browse(rng.randint(0, 2))
        j.end_session()


def failing_deployer(j: Journey) -> None:
    """Builds, then deployments fail with an error message; some retries succeed."""
    rng = j.rng
    _first_session(j, with_project=True)
    for day in _sorted_days(rng, rng.randint(2, 5), 1, 12):
        _return_session(j, day)
        _work(j, rng.randint(1, 3))
        for _ in range(rng.randint(1, 3)):
            outcome = "failed" if rng.random() < 0.75 else "completed"
            j.deploy(outcome, rng.uniform(20, 300))
            j.wait(60, 400)
        if rng.random() < 0.08:
            j.error_burst()
        j.end_session()


def slow_deployer(j: Journey) -> None:
    """Builds; one deployment hangs for 12-45 minutes, or never finishes at all."""
    rng = j.rng
    _first_session(j, with_project=True)
    days = _sorted_days(rng, rng.randint(2, 5), 1, 12)
    slow_day = rng.choice(days)
    for day in days:
        _return_session(j, day)
        _work(j, rng.randint(1, 3))
        if day == slow_day:
            outcome = "completed" if rng.random() < 0.6 else "never"
            j.deploy(outcome, rng.uniform(SLOW_DEPLOY_MIN_S, SLOW_DEPLOY_MAX_S))
        elif rng.random() < 0.5:
            j.deploy("completed", rng.uniform(45, 300))
        j.browse(rng.randint(0, 3))
        j.end_session()


def churner(j: Journey) -> None:
    """A burst of work on 2-4 days in the first week, then silence for over 15 days.

    About a third come back after 16-30 silent days for one more session of work.
    """
    rng = j.rng
    _first_session(j, with_project=True)
    days = _sorted_days(rng, rng.randint(2, 4), 1, 6)
    for day in days:
        _return_session(j, day)
        _work(j, rng.randint(2, 5))
        if rng.random() < 0.5:
            j.deploy("completed", rng.uniform(45, 300))
        if rng.random() < 0.08:
            j.error_burst()
        j.end_session()
    if rng.random() < 0.35:
        _return_session(j, days[-1] + rng.uniform(16.5, 30))
        _work(j, rng.randint(1, 3))
        j.end_session()


SCRIPTS: dict[str, Callable[[Journey], None]] = {
    "visitor": visitor,
    "bouncer": bouncer,
    "stuck_at_login": stuck_at_login,
    "builder": builder,
    "failing_deployer": failing_deployer,
    "slow_deployer": slow_deployer,
    "churner": churner,
}
