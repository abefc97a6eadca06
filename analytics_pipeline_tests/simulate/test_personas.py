"""Each persona behaves as SPEC §8 describes, measured by the journey rules of SPEC §5."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from analytics_pipeline.events.actions import MEANINGFUL_ACTIONS, action_for
from analytics_pipeline.simulate.personas import PERSONA_WEIGHTS
from analytics_pipeline.simulate.traffic import Person
from analytics_pipeline_tests.simulate.conftest import PEOPLE_PER_SAMPLE

REGISTERED = [p for p in PERSONA_WEIGHTS if p != "visitor"]


def actions(person: Person) -> list[tuple[datetime, str, dict]]:
    """(ts, action, raw value) for every event that is a journey action."""
    found = []
    for event in person.events:
        value = event.value
        request = value.get("request") or {}
        action = action_for(
            source=event.kind,
            type=value["type"],
            method=request.get("method"),
            path=request.get("path"),
            status=request.get("status"),
            deployment_status=(value.get("deployment") or {}).get("status"),
        )
        if action:
            found.append((event.ts, action, value))
    return found


def times(person: Person, action: str) -> list[datetime]:
    return [ts for ts, name, _ in actions(person) if name == action]


def meaningful_dates(person: Person) -> set:
    return {ts.date() for ts, name, _ in actions(person) if name in MEANINGFUL_ACTIONS}


def has_burst(moments: list[datetime], count: int, window: timedelta) -> bool:
    moments = sorted(moments)
    return any(
        moments[i + count - 1] - moments[i] <= window for i in range(len(moments) - count + 1)
    )


def open_deployments_after(person: Person, limit: timedelta) -> list[str]:
    """Deployments with no completed/failed event within `limit` of being started."""
    started, ended = {}, {}
    for ts, name, value in actions(person):
        deployment = (value.get("deployment") or {}).get("deployment_id")
        if name == "deployment_started":
            started[deployment] = ts
        elif name in ("deployment_completed", "deployment_failed"):
            ended[deployment] = ts
    return [d for d, ts in started.items() if d not in ended or ended[d] - ts > limit]


def test_every_persona_appears_in_its_share(people_by_persona: dict[str, list[Person]]) -> None:
    assert set(people_by_persona) == set(PERSONA_WEIGHTS)
    for persona, weight in PERSONA_WEIGHTS.items():
        expected = weight * PEOPLE_PER_SAMPLE
        assert 0.6 * expected <= len(people_by_persona[persona]) <= 1.4 * expected, persona


@pytest.mark.parametrize("persona", REGISTERED)
def test_registered_people_sign_up_exactly_once(
    people_by_persona: dict[str, list[Person]], persona: str
) -> None:
    for person in people_by_persona[persona]:
        assert len(times(person, "signed_up")) == 1


@pytest.mark.parametrize("persona", REGISTERED)
def test_browsing_is_anonymous_until_identify_links_the_browser(
    people_by_persona: dict[str, list[Person]], persona: str
) -> None:
    for person in people_by_persona[persona]:
        clickstream = [e.value for e in person.events if e.kind == "clickstream"]
        first_browser = clickstream[0]["anonymous_id"]
        assert clickstream[0]["user_id"] is None  # arrives as a stranger
        linked: set[str] = set()
        for value in clickstream:
            if value["type"] == "identify":
                assert value["user_id"] == person.user_id
                linked.add(value["anonymous_id"])
            elif value["user_id"] is not None:
                # After login both ids travel together, and only on a linked browser.
                assert value["user_id"] == person.user_id
                assert value["anonymous_id"] in linked
        assert first_browser in linked


def test_visitors_never_sign_up_or_carry_a_user_id(
    people_by_persona: dict[str, list[Person]],
) -> None:
    for person in people_by_persona["visitor"]:
        assert all(e.value["user_id"] is None for e in person.events)
        assert {name for _, name, _ in actions(person)} <= {"page_viewed", "clicked"}


def test_bouncers_never_do_anything_meaningful(
    people_by_persona: dict[str, list[Person]],
) -> None:
    bouncers = people_by_persona["bouncer"]
    assert all(not meaningful_dates(p) for p in bouncers)
    logged_in_again = [p for p in bouncers if times(p, "logged_in")]
    assert 0 < len(logged_in_again) < len(bouncers)  # "maybe one login"
    assert all(len(times(p, "logged_in")) <= 1 for p in bouncers)


def test_people_stuck_at_login_fail_three_times_within_ten_minutes(
    people_by_persona: dict[str, list[Person]],
) -> None:
    stuck = people_by_persona["stuck_at_login"]
    for person in stuck:
        assert has_burst(times(person, "login_failed"), 3, timedelta(minutes=10))
    never_get_in = [
        p
        for p in stuck
        if not times(p, "logged_in") or max(times(p, "logged_in")) < min(times(p, "login_failed"))
    ]
    assert 0 < len(never_get_in) < len(stuck)  # "sometimes no success after"


def test_builders_create_run_and_deploy_on_several_days(
    people_by_persona: dict[str, list[Person]],
) -> None:
    for person in people_by_persona["builder"]:
        names = {name for _, name, _ in actions(person)}
        assert {"signed_up", "logged_in", "project_created", "topic_created", "code_run"} <= names
        assert len(meaningful_dates(person)) >= 3
        assert not open_deployments_after(person, timedelta(minutes=10))
    deployed = [p for p in people_by_persona["builder"] if times(p, "deployment_completed")]
    assert len(deployed) >= 0.8 * len(people_by_persona["builder"])


def test_failing_deployers_get_failures_with_an_error_message(
    people_by_persona: dict[str, list[Person]],
) -> None:
    failing = people_by_persona["failing_deployer"]
    with_failures = [p for p in failing if times(p, "deployment_failed")]
    assert len(with_failures) >= 0.8 * len(failing)
    for person in with_failures:
        for _, name, value in actions(person):
            if name == "deployment_failed":
                assert value["deployment"]["error_message"]


def test_slow_deployers_leave_a_deployment_open_beyond_ten_minutes(
    people_by_persona: dict[str, list[Person]],
) -> None:
    slow = people_by_persona["slow_deployer"]
    for person in slow:
        assert open_deployments_after(person, timedelta(minutes=10))
    never_finish = [
        p
        for p in slow
        if len(times(p, "deployment_started"))
        > len(times(p, "deployment_completed")) + len(times(p, "deployment_failed"))
    ]
    assert 0 < len(never_finish) < len(slow)  # "sometimes never"


def test_churners_burst_then_go_silent_for_over_fifteen_days(
    people_by_persona: dict[str, list[Person]],
) -> None:
    churners = people_by_persona["churner"]
    for person in churners:
        signed_up = times(person, "signed_up")[0]
        moments = sorted(ts for ts, n, _ in actions(person) if n in MEANINGFUL_ACTIONS)
        burst = [ts for ts in moments if ts - signed_up <= timedelta(days=7)]
        later = [ts for ts in moments if ts - signed_up > timedelta(days=7)]
        assert len({ts.date() for ts in burst}) >= 2
        if later:
            assert later[0] - burst[-1] > timedelta(days=15)
        # Nothing at all (not even a page view) in the 15 days after the burst.
        assert not [
            e
            for e in person.events
            if burst[-1] < e.ts <= burst[-1] + timedelta(days=15)
            and e.ts - signed_up > timedelta(days=7, hours=6)
        ]
    assert any(
        max(ts for ts, n, _ in actions(p) if n in MEANINGFUL_ACTIONS) - times(p, "signed_up")[0]
        > timedelta(days=20)
        for p in churners
    ), "some churners come back after the silence"


def test_server_errors_come_in_bursts_of_three_within_five_minutes(
    people_by_persona: dict[str, list[Person]],
) -> None:
    everyone = [p for group in people_by_persona.values() for p in group]
    bursty = [p for p in everyone if has_burst(times(p, "api_error"), 3, timedelta(minutes=5))]
    with_errors = [p for p in everyone if times(p, "api_error")]
    assert len(bursty) >= 10
    assert len(with_errors) > len(bursty)  # single errors happen too
