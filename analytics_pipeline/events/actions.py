"""Which raw event is which journey action (SPEC §5), as one table of rules.

The rules are data: adding a mapping is one line in `ACTION_RULES`. The first matching rule
wins, and a raw event yields at most one action (events no rule matches, such as `identify`
or `resize`, are not journey actions). The warehouse applies the very same table in SQL
(`analytics_pipeline.journeys.derive`); `action_for` is the pure reference used by tests
and anyone who wants to classify one event in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Source = Literal["clickstream", "backend"]

# HTTP status classes a rule may require, as inclusive (low, high) bounds.
OK = (200, 299)
CLIENT_ERROR = (400, 499)
SERVER_ERROR = (500, 599)


@dataclass(frozen=True)
class ActionRule:
    """One mapping from a raw event to an action; `None` fields match anything.

    `path` is a regular expression (RE2 subset: keep it to literals, `[^/]+`, `\\d+`) that must
    match the whole request path after `normalise_path`.
    """

    action: str
    source: Source
    type: str
    method: str | None = None
    path: str | None = None
    status: tuple[int, int] | None = None
    deployment_status: str | None = None


# fmt: off
ACTION_RULES: tuple[ActionRule, ...] = (
    ActionRule("api_error", "backend", "api_request", status=SERVER_ERROR),
    ActionRule("signed_up", "backend", "api_request", "POST", r"/auth/signup", OK),
    ActionRule("logged_in", "backend", "api_request", "POST", r"/auth/login", OK),
    ActionRule("login_failed", "backend", "api_request", "POST", r"/auth/login", CLIENT_ERROR),
    ActionRule("project_created", "backend", "api_request", "POST", r"/projects", OK),
    ActionRule("topic_created", "backend", "api_request", "POST", r"/projects/[^/]+/topics", OK),
    ActionRule("code_run", "backend", "api_request", "POST", r"/projects/[^/]+/runs", OK),
    ActionRule("deployment_started", "backend", "deployment", deployment_status="started"),
    ActionRule("deployment_completed", "backend", "deployment", deployment_status="completed"),
    ActionRule("deployment_failed", "backend", "deployment", deployment_status="failed"),
    ActionRule("page_viewed", "clickstream", "page_view"),
    ActionRule("clicked", "clickstream", "click"),
)
# fmt: on

# Actions that count as real product use for the funnel (SPEC §5, §6).
MEANINGFUL_ACTIONS: frozenset[str] = frozenset(
    {"topic_created", "code_run", "deployment_started", "deployment_completed"}
)

ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(rule.action for rule in ACTION_RULES))

_QUERY_OR_FRAGMENT = re.compile(r"[?#].*$", re.DOTALL)


def normalise_path(path: str | None) -> str | None:
    """Drop a query string or fragment and a trailing slash: `/projects/?x=1` -> `/projects`."""
    if path is None:
        return None
    bare = _QUERY_OR_FRAGMENT.sub("", path).rstrip("/")
    return bare or "/"


def action_for(
    *,
    source: Source,
    type: str,
    method: str | None = None,
    path: str | None = None,
    status: int | None = None,
    deployment_status: str | None = None,
) -> str | None:
    """The action of one raw event by the first matching rule, or None if no rule matches."""
    method = method.upper() if method is not None else None
    path = normalise_path(path)
    for rule in ACTION_RULES:
        if rule.source != source or rule.type != type:
            continue
        if rule.method is not None and rule.method != method:
            continue
        if rule.path is not None and (path is None or re.fullmatch(rule.path, path) is None):
            continue
        if rule.status is not None and (
            status is None or not rule.status[0] <= status <= rule.status[1]
        ):
            continue
        if rule.deployment_status is not None and rule.deployment_status != deployment_status:
            continue
        return rule.action
    return None
