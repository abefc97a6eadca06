"""One simulated person's events, written the way their browser and our backend would emit them.

`Journey` is the vocabulary personas are scripted in (sign up, log in, create a project,
deploy, ...). Each call appends wire-format values of SPEC §4 at the journey's clock; a
person's events are sorted and numbered afterwards, so event ids are deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

MINUTE_MS = 60_000
DAY_MS = 86_400_000

VIEWPORTS = ((1920, 1080), (1440, 900), (1366, 768), (2560, 1440), (390, 844), (768, 1024))
MARKETING_PAGES = ("/", "/pricing", "/docs", "/docs/quickstart", "/blog", "/about", "/changelog")
APP_PAGES = ("/dashboard", "/projects", "/settings", "/docs/quickstart", "/billing")
SERVER_ERRORS = (
    (500, "internal_error", "Internal server error"),
    (502, "bad_gateway", "Upstream service unavailable"),
    (503, "service_unavailable", "Service temporarily overloaded, retry later"),
    (504, "gateway_timeout", "Upstream request timed out after 30s"),
)
DEPLOY_ERRORS = (
    "Build failed: requirements.txt: could not find a version that satisfies 'numpy==9.9'",
    "Container exited with code 137 (out of memory)",
    "Health check failed: no response on port 8080 after 120s",
    "Image pull failed: registry returned 403 Forbidden",
    "Build failed: SyntaxError in main.py line 42",
)


@dataclass(frozen=True, slots=True)
class TimeScale:
    """How persona time maps to clock time: real days in history, compressed in live mode.

    Live mode squeezes a persona "day" into half a minute and the pauses between clicks to a
    third, so a few minutes show sign-ups, logins, work and errors. Deployment durations are
    never scaled: a slow deployment stays slower than `ANALYTICS_DEPLOY_SLOW_MINUTES` (§7).
    """

    day_ms: int = DAY_MS
    pace: float = 1.0  # multiplier of the pauses inside a session
    session_gap_ms: int = MINUTE_MS  # least time between the end and start of two sessions

    @classmethod
    def live(cls) -> TimeScale:
        return cls(day_ms=30_000, pace=0.3, session_gap_ms=15_000)


@dataclass(frozen=True, slots=True)
class Ids:
    """Identifiers of one person, namespaced so separate runs never collide."""

    namespace: str
    index: int

    def make(self, prefix: str, *parts: int) -> str:
        suffix = "".join(f"-{p}" for p in parts)
        return f"{prefix}-{self.namespace}-{self.index}{suffix}"


class Journey:
    """A person's clock, browser state and emitted events."""

    def __init__(self, rng: random.Random, ids: Ids, arrival_ms: int, scale: TimeScale) -> None:
        self.rng = rng
        self.ids = ids
        self.scale = scale
        self.arrival_ms = arrival_ms
        self.t = arrival_ms
        self.user_id = ids.make("u")
        self.device = 0
        self.anonymous_id = ids.make("a", 0)
        self.session_no = 0
        self.session_id = ""
        self.viewport = rng.choice(VIEWPORTS)
        self.logged_in = False
        self.page = "/"
        self.projects: list[str] = []
        self._next_project = 0
        self._next_run = 0
        self._next_deployment = 0
        # (ts_ms, seq, kind, key, value): seq keeps same-millisecond events in script order.
        self.events: list[tuple[int, int, str, str, dict[str, Any]]] = []

    # ---- clock -------------------------------------------------------------------------

    def wait(self, low_s: float, high_s: float) -> None:
        self.t += int(self.rng.uniform(low_s, high_s) * self.scale.pace * 1000)

    def day(self, offset_days: float) -> int:
        """The moment `offset_days` persona days after arrival, at a similar time of day."""
        jitter = self.rng.uniform(-0.15, 0.15)
        return self.arrival_ms + int((offset_days + jitter) * self.scale.day_ms)

    def _emit(self, at_ms: int, kind: str, key: str, value: dict[str, Any]) -> None:
        self.events.append((at_ms, len(self.events), kind, key, value))

    # ---- browser -------------------------------------------------------------------------

    def _browser_event(self, event_type: str) -> dict[str, Any]:
        return {
            "event_id": "",
            "type": event_type,
            "ts": "",
            "user_id": self.user_id if self.logged_in else None,
            "anonymous_id": self.anonymous_id,
            "session_id": self.session_id,
        }

    def _browser(self, value: dict[str, Any]) -> None:
        self._emit(self.t, "clickstream", self.anonymous_id, value)

    def page_view(self, url: str) -> None:
        self.wait(2, 25)
        value = self._browser_event("page_view")
        value["page_url"] = url
        value["viewport"] = {"width": self.viewport[0], "height": self.viewport[1]}
        self._browser(value)
        self.page = url

    def click(self, element: str) -> None:
        self.wait(1, 12)
        value = self._browser_event("click")
        value["page_url"] = self.page
        value["element"] = element
        self._browser(value)

    def visibility(self, visible: bool) -> None:
        self.wait(0.5, 30)
        value = self._browser_event("visibility_change")
        value["visible"] = visible
        value["page_url"] = self.page
        self._browser(value)

    def resize(self) -> None:
        self.wait(0.5, 10)
        self.viewport = self.rng.choice(VIEWPORTS)
        value = self._browser_event("resize")
        value["viewport"] = {"width": self.viewport[0], "height": self.viewport[1]}
        self._browser(value)

    def identify(self) -> None:
        self.wait(0.05, 0.5)
        value = {
            "event_id": "",
            "type": "identify",
            "ts": "",
            "user_id": self.user_id,
            "anonymous_id": self.anonymous_id,
            "session_id": self.session_id,
        }
        self._browser(value)

    # ---- backend -------------------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        status: int,
        *,
        as_user: bool = True,
        error: tuple[str, str] | None = None,
        at_ms: int | None = None,
    ) -> None:
        """An `api_request`; 5xx statuses always carry an `error` object."""
        if at_ms is None:
            self.wait(0.05, 1.5)
            at_ms = self.t
        duration = round(self.rng.lognormvariate(3.5, 0.8), 1)  # median ~33 ms
        if status >= 500 and error is None:
            error = next((code, msg) for s, code, msg in SERVER_ERRORS if s == status)
        value: dict[str, Any] = {
            "event_id": "",
            "type": "api_request",
            "ts": "",
            "user_id": self.user_id if as_user else None,
            "request": {"method": method, "path": path, "status": status, "duration_ms": duration},
        }
        if error is not None:
            value["error"] = {"code": error[0], "message": error[1]}
        self._emit(at_ms, "backend", self.user_id if as_user else self.anonymous_id, value)

    def deployment_event(self, at_ms: int, deployment_id: str, status: str, error: str | None):
        value = {
            "event_id": "",
            "type": "deployment",
            "ts": "",
            "user_id": self.user_id,
            "deployment": {
                "deployment_id": deployment_id,
                "status": status,
                "error_message": error,
            },
        }
        self._emit(at_ms, "backend", self.user_id, value)

    # ---- sessions ------------------------------------------------------------------------

    def begin_session(self, at_ms: int, *, new_device: bool = False, expired: bool = False) -> None:
        """Open the site; never before the previous session ended (plus a pause)."""
        if self.session_no > 0:
            at_ms = max(at_ms, self.t + self.scale.session_gap_ms)
        self.t = at_ms
        self.session_no += 1
        self.session_id = self.ids.make("s", self.session_no)
        if new_device:
            self.device += 1
            self.anonymous_id = self.ids.make("a", self.device)
            self.viewport = self.rng.choice(VIEWPORTS)
            self.logged_in = False
        if expired:
            self.logged_in = False
        self.page = "/dashboard" if self.logged_in else self.rng.choice(MARKETING_PAGES)
        self.page_view(self.page)
        if self.rng.random() < 0.15:
            self.resize()

    def end_session(self) -> None:
        if self.rng.random() < 0.6:
            self.visibility(False)

    def browse(self, pages: int) -> None:
        """Wander around: page views, clicks, tab switches, resizes and the GETs behind them."""
        rng = self.rng
        for _ in range(pages):
            if self.logged_in:
                url = rng.choice(APP_PAGES + tuple(f"/projects/{p}" for p in self.projects))
            else:
                url = rng.choice(MARKETING_PAGES)
            self.page_view(url)
            if url in MARKETING_PAGES:
                self.api("GET", "/public/content" + url.rstrip("/"), 200, as_user=self.logged_in)
            else:
                status = 200 if rng.random() > 0.02 else rng.choice((500, 502, 503))
                self.api("GET", url, status)
            roll = rng.random()
            if roll < 0.45:
                self.click(rng.choice(("a#nav", "button#menu", "a#docs", "input#search")))
            elif roll < 0.55:
                self.visibility(False)
                self.visibility(True)
            elif roll < 0.58:
                self.resize()

    # ---- product actions -----------------------------------------------------------------

    def sign_up(self) -> None:
        """Landing page to account: the browser is linked to the new user right away."""
        if self.rng.random() < 0.5:
            self.page_view("/pricing")
        self.click("a#signup")
        self.page_view("/signup")
        self.click("button#create-account")
        self.api("POST", "/auth/signup", 201)
        self.logged_in = True
        self.identify()
        self.page_view("/welcome")

    def log_in(self) -> None:
        if self.logged_in:
            return
        self.page_view("/login")
        self.click("button#login")
        self.api("POST", "/auth/login", 200)
        self.logged_in = True
        self.identify()
        self.page_view("/dashboard")

    def fail_logins(self, attempts: int) -> None:
        """`attempts` rejected passwords, each at most ~105 s apart (≥3 fit in 10 minutes)."""
        self.logged_in = False
        self.page_view("/login")
        for attempt in range(attempts):
            if attempt:
                self.wait(15, 90)
            self.click("button#login")
            self.api(
                "POST",
                "/auth/login",
                self.rng.choice((401, 401, 401, 403, 429)),
                error=("invalid_credentials", "Invalid email or password"),
            )

    def create_project(self) -> str:
        project = self.ids.make("p", self._next_project)
        self._next_project += 1
        self.page_view("/projects/new")
        self.click("button#create-project")
        self.api("POST", "/projects", 201)
        self.projects.append(project)
        self.page_view(f"/projects/{project}")
        return project

    def project(self) -> str:
        return self.projects[-1] if self.projects else self.create_project()

    def create_topic(self) -> None:
        project = self.project()
        self.click("button#new-topic")
        self.api("POST", f"/projects/{project}/topics", 201)

    def run_code(self) -> None:
        project = self.project()
        self.click("button#run")
        if self.rng.random() < 0.05:  # a flaky run that the user retries
            self.api("POST", f"/projects/{project}/runs", 500)
            self.click("button#run")
        self.api("POST", f"/projects/{project}/runs", 201)
        run = self._next_run
        self._next_run += 1
        if self.rng.random() < 0.5:
            self.api("GET", f"/projects/{project}/runs/{self.ids.make('r', run)}", 200)

    def deploy(self, outcome: str, duration_s: float) -> None:
        """Start a deployment; `outcome` is completed, failed or never (no final event)."""
        project = self.project()
        deployment = self.ids.make("d", self._next_deployment)
        self._next_deployment += 1
        self.page_view(f"/projects/{project}/deploy")
        self.click("button#deploy")
        self.api("POST", f"/projects/{project}/deployments", 202)
        started = self.t + self.rng.randint(5, 80)
        self.deployment_event(started, deployment, "started", None)
        end = started + int(duration_s * 1000)
        polls = self.rng.randint(1, 4)
        for poll in range(polls):  # the deploy page polls the status while it is open
            at = started + (end - started) * (poll + 1) // (polls + 1)
            self.api("GET", f"/deployments/{deployment}", 200, at_ms=at)
        if outcome == "completed":
            self.deployment_event(end, deployment, "completed", None)
        elif outcome == "failed":
            self.deployment_event(end, deployment, "failed", self.rng.choice(DEPLOY_ERRORS))

    def error_burst(self) -> None:
        """3-5 server errors for this user within ~4 minutes (the `api_errors` alert)."""
        path = self.rng.choice(
            ["/projects", "/dashboard", *(f"/projects/{p}" for p in self.projects)]
        )
        for n in range(self.rng.randint(3, 5)):
            if n:
                self.wait(10, 55)
            self.api("GET", path, self.rng.choice((500, 502, 503, 504)))
