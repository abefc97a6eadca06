"""The fault injector: faults queued per method, outages, and calls held until let go.

A FAULT (see the package docstring) is played after the token check and before the method:
an HTTP error, a Slack error, no answer at all (`hang`, `drop`), a slow answer
(`answer_after`) or a `delay`. Held calls are let go at once by a reset or the end of an
outage.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .store import StubState

MAX_FAULT_TIMES = 100_000
MAX_HOLD_S = 600.0  # longest a `hang` or `answer_after` fault holds a call


@dataclass
class FaultInjector:
    """The faults to play. It shares the store's `lock`, so a reset forgets both at once."""

    lock: threading.RLock
    faults: dict[str, deque] = field(default_factory=dict)
    outages: dict[str, dict[str, Any]] = field(default_factory=dict)  # method -> fault
    # Set to let go of calls held by a `hang` or `answer_after` fault (reset, end of outage).
    release: threading.Event = field(default_factory=threading.Event)
    generation: int = 0  # bumped by every reset: a call held across one is not logged

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.outages.clear()
            self.release.set()
            self.release = threading.Event()
            self.generation += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            faults = {method: list(queue) for method, queue in self.faults.items()}
            return {"faults": faults, "outages": dict(self.outages)}

    def pop(self, method: str) -> dict[str, Any] | None:
        """The fault for this call: a queued one first, else the method's outage, else None."""
        with self.lock:
            for key in (method, "*"):
                queue = self.faults.get(key)
                if queue:
                    return queue.popleft()
            return self.outages.get(method) or self.outages.get("*")

    def queue(self, method: str, responses: list[dict[str, Any]]) -> None:
        with self.lock:
            queue = self.faults.setdefault(method, deque())
            for response in responses:
                times = min(int(response.get("times", 1)), MAX_FAULT_TIMES)
                queue.extend([{k: v for k, v in response.items() if k != "times"}] * times)

    def set_outage(self, method: str, fault: dict[str, Any] | None) -> None:
        """Every call of `method` ("*": all) answers `fault` until it is set to None."""
        with self.lock:
            if fault is None:
                self.outages.pop(method, None)
                self.release.set()  # calls held by the outage answer now
                self.release = threading.Event()
            else:
                self.outages[method] = fault

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, or less if the stub is reset or an outage ends meanwhile;
        False when a reset happened meanwhile (the held call belongs to a forgotten past)."""
        with self.lock:
            release, generation = self.release, self.generation
        release.wait(seconds)
        with self.lock:
            return generation == self.generation


class FaultPlaying:
    """The request handler's part that plays faults and serves /_stub/faults and /_stub/outage."""

    state: StubState
    faults: FaultInjector

    def _answer_fault(self, method: str, fault: dict[str, Any]) -> bool:
        """Play a fault before the call is handled; False when the call goes on afterwards
        (a `delay`, or an `answer_after` that handles the call and then answers late)."""
        delay = float(fault.get("delay", 0) or 0)
        if delay and not self.faults.wait(min(delay, MAX_HOLD_S)):
            self._close_unanswered()
            return True
        if "answer_after" in fault:
            return False
        if fault.get("hang") is not None:
            # Slack never answers: hold the connection, then close it without a word.
            self.state.log_call(method, 0, None, note="no answer (hang)")
            self.faults.wait(min(float(fault["hang"]), MAX_HOLD_S))
            self._close_unanswered()
            return True
        if fault.get("drop"):
            self.state.log_call(method, 0, None, note="no answer (drop)")
            self._close_unanswered()
            return True
        status = int(fault.get("status", 200))
        error = fault.get("error")
        headers: dict[str, str] = {}
        if status == 429:
            headers["Retry-After"] = str(int(fault.get("retry_after", 1)))
            error = error or "ratelimited"
        elif status >= 400:
            error = error or "internal_error"
        if error is None:
            return False
        self.state.log_call(method, status, error)
        extra = fault.get("extra") if isinstance(fault.get("extra"), dict) else {}
        self._send_json({**extra, "ok": False, "error": error}, status, headers)
        return True

    def _answer_late(self, method: str, fault: dict[str, Any], result: dict[str, Any]) -> None:
        """A slow Slack: the call is done (a message is stored, and the call logged now); the
        answer comes late or, with `drop`, never."""
        hold = min(float(fault["answer_after"] or 0), MAX_HOLD_S)
        if fault.get("drop"):
            self.state.log_call(method, 0, None, note=f"handled, answer dropped after {hold:g} s")
        else:
            self.state.log_call(method, 200, None, note=f"handled, answered after {hold:g} s")
        if not self.faults.wait(hold) or fault.get("drop"):
            self._close_unanswered()  # dropped, or the stub was reset meanwhile
            return
        self._send_json_quietly({"ok": True, **result})

    def _close_unanswered(self) -> None:
        """End the connection without any HTTP answer (the client sees it dropped)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _handle_faults(self, body: bytes) -> None:
        try:
            request = json.loads(body.decode("utf-8") or "{}")
            method = request["method"]
            responses = request["responses"]
            if not isinstance(method, str) or not isinstance(responses, list):
                raise TypeError
            if not all(isinstance(r, dict) for r in responses):
                raise TypeError
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            self._send_json(
                {
                    "ok": False,
                    "error": "bad_fault_request",
                    "expected": {"method": "chat.postMessage", "responses": [{"status": 429}]},
                },
                400,
            )
            return
        self.faults.queue(method, responses)
        self._send_json({"ok": True, "queued": len(responses)})

    def _handle_outage(self, body: bytes) -> None:
        try:
            request = json.loads(body.decode("utf-8") or "{}")
            method = request.get("method", "*")
            fault = request["fault"]
            if not isinstance(method, str) or not (fault is None or isinstance(fault, dict)):
                raise TypeError
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
            self._send_json(
                {
                    "ok": False,
                    "error": "bad_outage_request",
                    "expected": {"method": "*", "fault": {"status": 500}},
                    "to_end_it": {"method": "*", "fault": None},
                },
                400,
            )
            return
        self.faults.set_outage(method, fault)
        self._send_json({"ok": True, "method": method, "fault": fault})
