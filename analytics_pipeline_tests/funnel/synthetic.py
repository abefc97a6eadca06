"""A small deterministic population for funnel tests: sign-ups, inferred sign-ups, activity."""

from __future__ import annotations

import random
from datetime import date, timedelta

from analytics_pipeline_tests.journeys.raw_events import (
    Event,
    api,
    at,
    code_run,
    deployment,
    identify,
    page_view,
    signup,
    topic_created,
)


def population(first_day: date, days: int, users: int, seed: int) -> list[Event]:
    """Events of `users` users over `days` days from `first_day`; same seed, same events."""
    rng = random.Random(seed)
    events: list[Event] = []
    for n in range(users):
        user, anonymous = f"user-{n}", f"anon-{n}"
        start = first_day + timedelta(days=rng.randrange(days))
        hour = rng.randrange(24)
        events.append(page_view(anonymous, at(start, hour)))
        if rng.random() < 0.8:
            events.append(signup(user, at(start, hour, 30)))
        else:  # inferred sign-up: a login is the first action
            events.append(api(user, "POST", "/auth/login", 200, at(start, hour, 30)))
        events.append(identify(anonymous, user, at(start, hour, 31)))
        for _ in range(rng.choice([0, 0, 1, 2, 3, 6])):
            day = start + timedelta(days=rng.randrange(days))
            make = rng.choice([topic_created, code_run])
            events.append(make(user, at(day, rng.randrange(24))))
        if rng.random() < 0.3:
            day = start + timedelta(days=rng.randrange(days))
            events.append(deployment(user, rng.choice(["started", "failed"]), at(day)))
    return events
