"""The simulator's own reading of SPEC §4, stricter than ingestion needs to be.

Ingestion's validator (`analytics_pipeline.events.wire`) decides what is stored; this
checker states what the simulator promises on top: timestamps exactly like
`2026-11-01T10:00:00.123Z`, every optional field well-typed when present, 5xx responses
carrying an error object, and ids the pipeline can join on.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CLICKSTREAM_TYPES = {"page_view", "click", "visibility_change", "resize", "identify"}
BACKEND_TYPES = {"api_request", "deployment"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _viewport_problem(viewport: Any) -> str | None:
    if not isinstance(viewport, dict) or set(viewport) != {"width", "height"}:
        return "viewport must be {width, height}"
    if not all(_is_int(viewport[side]) and viewport[side] > 0 for side in viewport):
        return "viewport sides must be positive ints"
    return None


def problems(kind: str, value: Any) -> list[str]:
    """Every way `value` (a decoded message of the `kind` topic) breaks SPEC §4; [] if none."""
    found: list[str] = []

    def need(condition: bool, text: str) -> None:
        if not condition:
            found.append(text)

    if not isinstance(value, dict):
        return ["not a JSON object"]
    event_id = value.get("event_id")
    need(isinstance(event_id, str) and 1 <= len(event_id) <= 128, "event_id: 1-128 char string")
    ts = value.get("ts")
    need(isinstance(ts, str) and TS.fullmatch(ts) is not None, f"ts not RFC 3339 with Z: {ts!r}")
    if isinstance(ts, str) and TS.fullmatch(ts):
        need(datetime.fromisoformat(ts).tzinfo is not None, "ts has no offset")
    user_id = value.get("user_id")
    need(user_id is None or (isinstance(user_id, str) and user_id != ""), "user_id: str or null")
    event_type = value.get("type")
    if kind == "clickstream":
        need(event_type in CLICKSTREAM_TYPES, f"unknown clickstream type {event_type!r}")
        need(isinstance(value.get("anonymous_id"), str), "anonymous_id required")
        session = value.get("session_id")
        need(session is None or isinstance(session, str), "session_id: str")
        if event_type in ("page_view", "click"):
            need(isinstance(value.get("page_url"), str), "page_url required")
        if event_type == "page_view" and "viewport" in value:
            problem = _viewport_problem(value["viewport"])
            need(problem is None, str(problem))
        if event_type == "click" and "element" in value:
            need(isinstance(value["element"], str), "element: str")
        if event_type == "visibility_change":
            need(isinstance(value.get("visible"), bool), "visible: bool required")
        if event_type == "resize":
            problem = _viewport_problem(value.get("viewport"))
            need(problem is None, str(problem))
        if event_type == "identify":
            need(isinstance(user_id, str), "identify needs user_id")
    elif kind == "backend":
        need(event_type in BACKEND_TYPES, f"unknown backend type {event_type!r}")
        if event_type == "api_request":
            request = value.get("request")
            if not isinstance(request, dict):
                return [*found, "request object required"]
            need(request.get("method") in {"GET", "POST", "PUT", "DELETE"}, "request.method")
            need(isinstance(request.get("path"), str), "request.path")
            status = request.get("status")
            need(_is_int(status) and 100 <= status <= 599, "request.status int 100-599")
            duration = request.get("duration_ms")
            need(
                isinstance(duration, int | float)
                and not isinstance(duration, bool)
                and duration >= 0,
                "request.duration_ms number >= 0",
            )
            error = value.get("error")
            if _is_int(status) and status >= 500:
                need(isinstance(error, dict), "5xx without error object")
            if error is not None:
                need(
                    isinstance(error, dict)
                    and isinstance(error.get("code"), str)
                    and isinstance(error.get("message"), str),
                    "error must be {code, message}",
                )
        if event_type == "deployment":
            need(isinstance(user_id, str), "deployment needs user_id")
            deployment = value.get("deployment")
            if not isinstance(deployment, dict):
                return [*found, "deployment object required"]
            need(isinstance(deployment.get("deployment_id"), str), "deployment_id: str")
            status = deployment.get("status")
            need(status in {"started", "completed", "failed"}, f"deployment.status {status!r}")
            message = deployment.get("error_message")
            if status == "failed":
                need(isinstance(message, str) and message != "", "failed needs error_message")
            else:
                need(message is None, "error_message only on failure")
    else:
        found.append(f"unknown topic kind {kind!r}")
    return found
