"""Simulated samples shared by the simulator tests (generated once per session: pure and fast)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

import pytest

from analytics_pipeline.simulate.journey import TimeScale
from analytics_pipeline.simulate.model import SimEvent, datetime_to_ms
from analytics_pipeline.simulate.traffic import Person, generate_traffic, simulate_person

SAMPLE_START = date(2026, 9, 1)
SAMPLE_ARGS = {"users": 400, "days": 45, "seed": 11, "start": SAMPLE_START}
PEOPLE_PER_SAMPLE = 700


@pytest.fixture(scope="session")
def history_sample() -> list[SimEvent]:
    """400 people over 45 days from 2026-09-01, seed 11."""
    return list(generate_traffic(**SAMPLE_ARGS))


@pytest.fixture(scope="session")
def people_by_persona() -> dict[str, list[Person]]:
    """700 whole journeys (history time scale, never cut by a window), grouped by persona."""
    arrival = datetime_to_ms(datetime(2026, 9, 1, 9, tzinfo=UTC))
    grouped: dict[str, list[Person]] = defaultdict(list)
    for index in range(PEOPLE_PER_SAMPLE):
        person = simulate_person(5, index, "t", arrival, TimeScale())
        grouped[person.persona].append(person)
    return dict(grouped)
