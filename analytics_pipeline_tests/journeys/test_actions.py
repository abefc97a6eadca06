"""The action rules of SPEC §5, in Python and in the warehouse SQL, agree case by case."""

from __future__ import annotations

import pytest

from analytics_pipeline.events.actions import (
    ACTION_RULES,
    MEANINGFUL_ACTIONS,
    action_for,
    normalise_path,
)
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline_tests.journeys.conftest import TOPICS
from analytics_pipeline_tests.journeys.raw_events import _event, api, at, deployment

TS = at("2026-02-01")

API_CASES = [
    # method, path, status, expected action
    ("POST", "/auth/signup", 201, "signed_up"),
    ("POST", "/auth/signup", 200, "signed_up"),
    ("POST", "/auth/signup", 409, None),
    ("GET", "/auth/signup", 200, None),
    ("POST", "/auth/login", 200, "logged_in"),
    ("post", "/auth/login/", 204, "logged_in"),
    ("POST", "/auth/login", 401, "login_failed"),
    ("POST", "/auth/login", 429, "login_failed"),
    ("POST", "/auth/login", 302, None),
    ("POST", "/projects", 201, "project_created"),
    ("POST", "/projects?draft=1", 201, "project_created"),
    ("GET", "/projects", 200, None),
    ("POST", "/projects/p-42/topics", 201, "topic_created"),
    ("POST", "/projects/p-42/topics/t1", 201, None),
    ("POST", "/projects/p-42/runs", 200, "code_run"),
    ("POST", "/projects//runs", 200, None),
    ("POST", "/projects/p-42/runs", 500, "api_error"),
    ("GET", "/anything/else", 503, "api_error"),
    ("DELETE", "/projects/p-42", 599, "api_error"),
    ("GET", "/anything/else", 404, None),
]


@pytest.mark.parametrize(("method", "path", "status", "expected"), API_CASES)
def test_api_request_rules_map_method_path_and_status_class(method, path, status, expected):
    assert (
        action_for(source="backend", type="api_request", method=method, path=path, status=status)
        == expected
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("started", "deployment_started"),
        ("completed", "deployment_completed"),
        ("failed", "deployment_failed"),
        ("queued", None),
    ],
)
def test_deployment_status_gives_the_deployment_action(status, expected):
    assert action_for(source="backend", type="deployment", deployment_status=status) == expected


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        ("page_view", "page_viewed"),
        ("click", "clicked"),
        ("identify", None),
        ("resize", None),
        ("visibility_change", None),
    ],
)
def test_clickstream_types_map_to_actions_and_identify_is_not_an_action(type_, expected):
    assert action_for(source="clickstream", type=type_) == expected


def test_meaningful_actions_are_the_four_of_the_spec_and_all_have_rules():
    assert {
        "topic_created",
        "code_run",
        "deployment_started",
        "deployment_completed",
    } == MEANINGFUL_ACTIONS
    assert {rule.action for rule in ACTION_RULES} >= MEANINGFUL_ACTIONS


def test_normalise_path_drops_query_fragment_and_trailing_slash():
    assert normalise_path("/projects/?a=1#x") == "/projects"
    assert normalise_path("/") == "/"
    assert normalise_path(None) is None


def test_warehouse_sql_classifies_exactly_like_the_python_rules(conn, raw):
    api_events = [api("u1", m, p, s, TS) for m, p, s, _ in API_CASES]
    deployments = [deployment("u1", s, TS) for s in ("started", "completed", "failed", "queued")]
    clicks = [
        _event(t, TS, anonymous_id="a1", user_id="u1", page_url="https://p", visible=True)
        for t in ("page_view", "click", "identify", "visibility_change")
    ]
    raw.add(api_events, deployments, clicks)
    update_journeys(conn, **TOPICS)

    stored = dict(conn.execute("SELECT event_id, action FROM journey_events").fetchall())
    expected = {e["event_id"]: exp for e, (*_, exp) in zip(api_events, API_CASES, strict=True)}
    expected |= {
        e["event_id"]: action_for(
            source="backend", type="deployment", deployment_status=e["deployment"]["status"]
        )
        for e in deployments
    }
    expected |= {e["event_id"]: action_for(source="clickstream", type=e["type"]) for e in clicks}
    assert stored == {event_id: a for event_id, a in expected.items() if a is not None}
