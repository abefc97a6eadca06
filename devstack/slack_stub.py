"""A local stand-in for the Slack Web API, for development (`make run`) and tests.

It speaks exactly the methods analytics_pipeline calls through `slack_sdk.WebClient`:

- `auth.test`
- `chat.postMessage`                 (JSON or form body, optional message `metadata`;
                                      returns the channel id and a unique ts)
- `conversations.history`            (channel id only, oldest/latest/inclusive, limit + cursor,
                                      newest first; `metadata` with `include_all_metadata`)
- `users.conversations`              (the channels the bot is a member of)
- `files.getUploadURLExternal`       (hands out an upload URL pointing back at this stub)
- the upload URL itself              (raw POST of the file bytes)
- `files.completeUploadExternal`     (shares the uploaded files, optionally in a thread)

It accepts exactly one bot token, SLACK_BOT_TOKEN from the environment it starts in (any other
gets `invalid_auth`, before any injected fault is played), stores every message and file it
receives (in memory, in `<data-dir>/events.jsonl` and `<data-dir>/files/`), and can play faults
so tests can exercise retries. `GET /` shows what arrived as Slack would show it (bold, code,
links, emoji), grouped by channel and thread, refreshing itself every few seconds.

Like real Slack, channel names are turned into channel ids (`#portal-alerts` -> `C…`); the id
is derived from the name, so it is stable across restarts. The bot is a member of the channels
given with `--channel` (default: SLACK_ALERTS_CHANNEL and SLACK_REPORTS_CHANNEL) and of every
channel it posted to. `files.completeUploadExternal` and `conversations.history` accept only
channel ids (as Slack does).

Control API (for tests and people; no token needed):

    GET  /_stub/health     {"ok": true, ...}
    GET  /_stub/messages   {"messages": [...]}    optional ?channel=<name or id>
    GET  /_stub/files      {"files": [...]}
    GET  /_stub/calls      {"calls": [...]}       every Web API call with its outcome
                                                  (status 0: no HTTP answer, see `note`)
    GET  /_stub/faults     {"faults": {...}, "outages": {...}}
    POST /_stub/faults     {"method": "chat.postMessage", "responses": [FAULT, ...]}
                           queued, one consumed per call of that method ("*": any method)
    POST /_stub/outage     {"method": "*", "fault": FAULT}  every call answers FAULT ...
    POST /_stub/outage     {"method": "*", "fault": null}   ... until this (or a reset)
    POST /_stub/reset      forget everything (messages, files, calls, faults, outages)

A FAULT is one of:

    {"status": 500}                      HTTP 5xx, {"ok": false, "error": "internal_error"}
    {"status": 429, "retry_after": 30}   rate limited, with a Retry-After header
    {"error": "invalid_blocks"}          Slack refuses the call (HTTP 200, ok: false);
                                         "extra": {...} adds fields ("needed": "chat:write")
    {"hang": 30}                         no answer: hold the connection 30 s, then close it
    {"drop": true}                       no answer: close the connection at once
    {"answer_after": 8}                  slow Slack: handle the call now (the message is
                                         stored), answer 8 s later; with "drop": true, never
    {"delay": 2.5}                       wait, then go on as usual (or play the rest)
    "times": n                           (queued faults) the same fault for the next n calls

Held calls (`hang`, `answer_after`) are let go at once by a reset or the end of an outage.

Standard library only, so it runs before any dependency is installed:

    SLACK_BOT_TOKEN=xoxb-… python devstack/slack_stub.py --port 8765 --data-dir .devstack/slack

`--port 0` picks a free port; the first line printed says where it listens.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import html
import json
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

API_PREFIX = "/api/"
UPLOAD_PREFIX = "/upload/"
FILES_PREFIX = "/files/"
CHANNEL_ID_PATTERN = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")
PAGE_TEMPLATE = Path(__file__).with_name("slack_stub_page.html")
MAX_CALLS_KEPT = 10_000
MAX_FAULT_TIMES = 100_000
MAX_HOLD_S = 600.0  # longest a `hang` or `answer_after` fault holds a call
MAX_BODY_BYTES = 1024 * 1024 * 1024  # Slack's own file size limit is 1 GB
TEAM_ID = "T0STUB0001"
BOT_USER_ID = "U0STUBBOT1"
BOT_ID = "B0STUBBOT1"
DEFAULT_CHANNELS = ("#portal-alerts", "#portal-analytics")
CHANNEL_VARIABLES = ("SLACK_ALERTS_CHANNEL", "SLACK_REPORTS_CHANNEL")


class SlackError(Exception):
    """A Slack-style failure: answered as {"ok": false, "error": code} with an HTTP status."""

    def __init__(self, code: str, status: int = 200, detail: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.detail = detail


def channel_id_for(name: str) -> str:
    """Stable channel id for a channel name, shaped like Slack's (C + 10 upper-case chars)."""
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest().upper()
    return "C" + digest[:10]


@dataclass
class StubState:
    """Everything the stub has received. All access goes through `lock`."""

    data_dir: Path
    lock: threading.RLock = field(default_factory=threading.RLock)
    channels: dict[str, str] = field(default_factory=dict)  # id -> name
    messages: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> file record
    calls: deque = field(default_factory=lambda: deque(maxlen=MAX_CALLS_KEPT))
    faults: dict[str, deque] = field(default_factory=dict)
    outages: dict[str, dict[str, Any]] = field(default_factory=dict)  # method -> fault
    member_channels: tuple[str, ...] = ()  # names the bot "was invited to"
    # Set to let go of calls held by a `hang` or `answer_after` fault (reset, end of outage).
    release: threading.Event = field(default_factory=threading.Event)
    generation: int = 0  # bumped by every reset: a call held across one is not logged
    last_ts_micros: int = 0
    started_at: float = field(default_factory=time.time)

    @property
    def journal(self) -> Path:
        return self.data_dir / "events.jsonl"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    # -- persistence -------------------------------------------------------------------

    def load(self) -> None:
        """Replay the journal so a restarted stub still shows earlier messages and files."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.journal.exists():
            self._replay()
        self._join_member_channels()

    def _join_member_channels(self) -> None:
        for name in self.member_channels:
            self.resolve_channel(name)

    def _replay(self) -> None:
        with self.journal.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line after a crash
                self._apply(record)

    def _apply(self, record: dict[str, Any]) -> None:
        kind, item = record.get("kind"), record.get("item") or {}
        if kind == "channel":
            self.channels[item["id"]] = item["name"]
        elif kind == "message":
            self.messages.append(item)
            self.last_ts_micros = max(self.last_ts_micros, _ts_to_micros(item["ts"]))
        elif kind == "file":
            self.files[item["id"]] = item

    def _record(self, kind: str, item: dict[str, Any]) -> None:
        self._apply({"kind": kind, "item": item})
        with self.journal.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"kind": kind, "item": item}, ensure_ascii=False) + "\n")

    def reset(self) -> None:
        with self.lock:
            self.channels.clear()
            self.messages.clear()
            self.files.clear()
            self.calls.clear()
            self.faults.clear()
            self.outages.clear()
            self.release.set()
            self.release = threading.Event()
            self.generation += 1
            self.journal.unlink(missing_ok=True)
            shutil.rmtree(self.files_dir, ignore_errors=True)
            self._join_member_channels()

    # -- domain ------------------------------------------------------------------------

    def next_ts(self) -> str:
        """Slack-style message ts ("1700000000.000100"): unique and increasing."""
        with self.lock:
            now = int(time.time() * 1_000_000)
            self.last_ts_micros = max(now, self.last_ts_micros + 1)
            return _micros_to_ts(self.last_ts_micros)

    def resolve_channel(self, channel: str) -> tuple[str, str]:
        """(id, name) for a channel given by id or by name (with or without '#')."""
        channel = channel.strip()
        with self.lock:
            if CHANNEL_ID_PATTERN.match(channel):
                if channel not in self.channels:
                    self._record("channel", {"id": channel, "name": channel})
                return channel, self.channels[channel]
            name = "#" + channel.lstrip("#")
            if name == "#":
                raise SlackError("channel_not_found")
            channel_id = channel_id_for(name)
            if channel_id not in self.channels:
                self._record("channel", {"id": channel_id, "name": name})
            return channel_id, name

    def add_message(self, message: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            message = {**message, "ts": self.next_ts(), "received_at": time.time()}
            self._record("message", message)
            return message

    def add_file(self, record: dict[str, Any]) -> None:
        with self.lock:
            self._record("file", record)

    def pop_fault(self, method: str) -> dict[str, Any] | None:
        """The fault for this call: a queued one first, else the method's outage, else None."""
        with self.lock:
            for key in (method, "*"):
                queue = self.faults.get(key)
                if queue:
                    return queue.popleft()
            return self.outages.get(method) or self.outages.get("*")

    def queue_faults(self, method: str, responses: list[dict[str, Any]]) -> None:
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

    def log_call(
        self, method: str, status: int, error: str | None, note: str | None = None
    ) -> None:
        """Status 0: the call got no HTTP answer at all (see `note`)."""
        with self.lock:
            call = {"method": method, "status": status, "error": error, "at": time.time()}
            if note:
                call["note"] = note
            self.calls.append(call)


def _micros_to_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _ts_to_micros(ts: str) -> int:
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Parameters of a Web API call sent as JSON, form-urlencoded or multipart/form-data."""
    media_type = content_type.split(";")[0].strip().lower()
    if not body:
        return {}
    if media_type == "application/json":
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise SlackError("invalid_json", 200) from None
        if not isinstance(parsed, dict):
            raise SlackError("invalid_json", 200)
        return parsed
    if media_type == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True) or b""
                params[name] = (
                    payload if part.get_filename() else payload.decode("utf-8", "replace")
                )
        return params
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SlackError("invalid_form_data", 200) from None
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _json_param(params: dict[str, Any], name: str) -> Any:
    """A parameter that Slack accepts either as a JSON value or as a JSON-encoded string."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except json.JSONDecodeError:
            raise SlackError(f"invalid_{name}", 200) from None
    return value


def _safe_filename(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    return cleaned[:120]


class SlackStubHandler(BaseHTTPRequestHandler):
    server_version = "SlackStub/1.0"
    state: StubState  # set on the subclass built by make_server
    token: str  # the one bot token accepted
    quiet: bool

    # -- plumbing ----------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            sys.stderr.write(f"slack-stub {self.address_string()} {format % args}\n")

    def _base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{self.headers.get('Host') or f'{host}:{port}'}"

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise SlackError("request_too_large", 413)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload: Any, status: int = 200, headers: dict | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _send_json_quietly(self, payload: Any) -> None:
        """Answer a handled call; a client that gave up waiting (a slow answer) is no error."""
        try:
            self._send_json(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- routing -----------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith(API_PREFIX):
            self._handle_api(path[len(API_PREFIX) :], body=b"")
        elif path == "/_stub/health":
            self._send_json(self._health())
        elif path == "/_stub/messages":
            self._send_json({"messages": self._messages(self._query().get("channel"))})
        elif path == "/_stub/files":
            with self.state.lock:
                files = list(self.state.files.values())
            self._send_json({"files": files})
        elif path == "/_stub/calls":
            with self.state.lock:
                calls = list(self.state.calls)
            self._send_json({"calls": calls})
        elif path == "/_stub/faults":
            with self.state.lock:
                faults = {method: list(queue) for method, queue in self.state.faults.items()}
                outages = dict(self.state.outages)
            self._send_json({"faults": faults, "outages": outages})
        elif path.startswith(FILES_PREFIX):
            self._download(path[len(FILES_PREFIX) :])
        elif path in ("/", "/index.html"):
            self._send(200, self._page().encode("utf-8"), "text/html; charset=utf-8")
        else:
            self._send_json({"ok": False, "error": "not_found"}, 404)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
        except SlackError as error:
            self._send_json({"ok": False, "error": error.code}, error.status)
            return
        if path.startswith(API_PREFIX):
            self._handle_api(path[len(API_PREFIX) :], body)
        elif path.startswith(UPLOAD_PREFIX):
            self._handle_upload(path[len(UPLOAD_PREFIX) :], body)
        elif path == "/_stub/reset":
            self.state.reset()
            self._send_json({"ok": True})
        elif path == "/_stub/faults":
            self._handle_faults(body)
        elif path == "/_stub/outage":
            self._handle_outage(body)
        else:
            self._send_json({"ok": False, "error": "not_found"}, 404)

    def _query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    # -- control API -------------------------------------------------------------------

    def _health(self) -> dict[str, Any]:
        with self.state.lock:
            return {
                "ok": True,
                "service": "slack-stub",
                "api_url": self._base_url() + API_PREFIX,
                "messages": len(self.state.messages),
                "files": len(self.state.files),
                "uptime_s": round(time.time() - self.state.started_at, 3),
            }

    def _messages(self, channel: str | None) -> list[dict[str, Any]]:
        with self.state.lock:
            messages = list(self.state.messages)
            names = dict(self.state.channels)
        if channel:
            wanted = {channel, "#" + channel.lstrip("#"), channel_id_for("#" + channel.lstrip("#"))}
            messages = [
                m for m in messages if m["channel"] in wanted or names.get(m["channel"]) in wanted
            ]
        return messages

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
        self.state.queue_faults(method, responses)
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
        self.state.set_outage(method, fault)
        self._send_json({"ok": True, "method": method, "fault": fault})

    # -- the Web API -------------------------------------------------------------------

    def _handle_api(self, method: str, body: bytes) -> None:
        """One Web API call: the token first (like Slack), then any injected fault, then the
        method itself."""
        fault: dict[str, Any] | None = None
        try:
            params = _parse_body(self.headers.get("Content-Type", ""), body)
            params.update(self._query())
            self._check_token(params.pop("token", None))
            fault = self.state.pop_fault(method)
            if fault is not None and self._answer_fault(method, fault):
                return
            handler = self.METHODS.get(method)
            if handler is None:
                raise SlackError("unknown_method", 404)
            result = handler(self, params)
        except SlackError as error:
            self.state.log_call(method, error.status, error.code)
            payload: dict[str, Any] = {"ok": False, "error": error.code}
            if error.detail:
                payload["response_metadata"] = {"messages": [error.detail]}
            self._send_json(payload, error.status)
            return
        if fault is not None and "answer_after" in fault:
            self._answer_late(method, fault, result)
            return
        self.state.log_call(method, 200, None)
        self._send_json_quietly({"ok": True, **result})

    def _answer_fault(self, method: str, fault: dict[str, Any]) -> bool:
        """Play a fault before the call is handled; False when the call goes on afterwards
        (a `delay`, or an `answer_after` that handles the call and then answers late)."""
        delay = float(fault.get("delay", 0) or 0)
        if delay and not self.state.wait(min(delay, MAX_HOLD_S)):
            self._close_unanswered()
            return True
        if "answer_after" in fault:
            return False
        if fault.get("hang") is not None:
            # Slack never answers: hold the connection, then close it without a word.
            self.state.log_call(method, 0, None, note="no answer (hang)")
            self.state.wait(min(float(fault["hang"]), MAX_HOLD_S))
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
        if not self.state.wait(hold) or fault.get("drop"):
            self._close_unanswered()  # dropped, or the stub was reset meanwhile
            return
        self._send_json_quietly({"ok": True, **result})

    def _close_unanswered(self) -> None:
        """End the connection without any HTTP answer (the client sees it dropped)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _check_token(self, body_token: str | None) -> None:
        authorization = self.headers.get("Authorization", "")
        token = body_token
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        if not token:
            raise SlackError("not_authed")
        if not hmac.compare_digest(token.encode("utf-8"), self.token.encode("utf-8")):
            raise SlackError("invalid_auth")

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self._base_url() + "/",
            "team": "Local Slack stub",
            "user": "analytics-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel.strip():
            raise SlackError("channel_not_found")
        blocks = _json_param(params, "blocks")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks")
        text = params.get("text")
        if not text and not blocks and not params.get("attachments"):
            raise SlackError("no_text")
        metadata = _json_param(params, "metadata")
        if metadata is not None and not _valid_metadata(metadata):
            raise SlackError(
                "invalid_metadata_format",
                detail="metadata needs a string event_type and an object event_payload",
            )
        channel_id, channel_name = self.state.resolve_channel(channel)
        thread_ts = params.get("thread_ts") or None
        message = self.state.add_message(
            {
                "kind": "message",
                "channel": channel_id,
                "channel_name": channel_name,
                "text": text or "",
                "blocks": blocks,
                "metadata": metadata,
                "thread_ts": str(thread_ts) if thread_ts else None,
                "files": [],
                "params": {
                    k: v for k, v in params.items() if k not in ("text", "blocks", "metadata")
                },
            }
        )
        return {"channel": channel_id, "ts": message["ts"], "message": _slack_message(message)}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages of one channel (by id, as Slack requires), newest first,
        between `oldest` and `latest` (exclusive unless `inclusive`), `limit` per page."""
        channel = str(params.get("channel") or "").strip()
        with self.state.lock:
            if not CHANNEL_ID_PATTERN.match(channel) or channel not in self.state.channels:
                raise SlackError("channel_not_found")
            messages = [
                m
                for m in self.state.messages
                if m.get("channel") == channel
                and (not m.get("thread_ts") or m["thread_ts"] == m["ts"])
            ]
        inclusive = _truthy(params.get("inclusive"))
        oldest = _ts_param(params, "oldest", 0)
        latest = _ts_param(params, "latest", None)
        try:
            limit = max(1, min(int(params.get("limit") or 100), 999))
            skip = int(params.get("cursor") or 0)
        except ValueError:
            raise SlackError("invalid_arguments", detail="limit and cursor are integers") from None

        def in_range(message: dict[str, Any]) -> bool:
            micros = _ts_to_micros(message["ts"])
            above = micros >= oldest if inclusive else micros > oldest
            below = latest is None or (micros <= latest if inclusive else micros < latest)
            return above and below

        selected = sorted(
            (m for m in messages if in_range(m)), key=lambda m: _ts_to_micros(m["ts"])
        )[::-1]
        page = selected[skip : skip + limit]
        has_more = skip + limit < len(selected)
        with_metadata = _truthy(params.get("include_all_metadata"))
        return {
            "messages": [_slack_message(m, with_metadata=with_metadata) for m in page],
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": str(skip + limit) if has_more else ""},
        }

    def _users_conversations(self, params: dict[str, Any]) -> dict[str, Any]:
        """The channels the bot is a member of: those it was started with and those it
        posted to (like Slack's, names come without '#')."""
        with self.state.lock:
            channels = sorted(self.state.channels.items(), key=lambda kv: kv[1])
        return {
            "channels": [
                {
                    "id": channel_id,
                    "name": name.lstrip("#"),
                    "is_channel": True,
                    "is_private": False,
                    "is_archived": False,
                    "is_member": True,
                }
                for channel_id, name in channels
                if name.startswith("#")
            ],
            "response_metadata": {"next_cursor": ""},
        }

    def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        length = params.get("length")
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", detail="length must be an integer") from None
        if not filename:
            raise SlackError("invalid_arguments", detail="filename is required")
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.state.add_file(
            {
                "id": file_id,
                "name": str(filename),
                "title": None,
                "length": length,
                "size": None,
                "sha256": None,
                "path": None,
                "uploaded": False,
                "completed": False,
                "channel": None,
                "thread_ts": None,
                "message_ts": None,
                "alt_txt": params.get("alt_txt"),
                "created_at": time.time(),
            }
        )
        return {"upload_url": f"{self._base_url()}{UPLOAD_PREFIX}{file_id}", "file_id": file_id}

    def _handle_upload(self, file_id: str, body: bytes) -> None:
        fault = self.state.pop_fault("upload")
        if fault is not None:
            status = int(fault.get("status", 500))
            self.state.log_call("upload", status, fault.get("error") or "fault")
            self._send(status, b"upload failed (injected fault)", "text/plain")
            return
        with self.state.lock:
            record = self.state.files.get(file_id)
            if record is None or record["uploaded"]:
                self.state.log_call("upload", 404, "file_not_found")
                self._send(404, b"unknown or already used upload URL", "text/plain")
                return
            folder = self.state.files_dir / file_id
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / _safe_filename(record["name"])
            target.write_bytes(body)
            record = {
                **record,
                "uploaded": True,
                "size": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
                "path": str(target),
            }
            self.state.add_file(record)
        self.state.log_call("upload", 200, None)
        self._send(200, f"OK - {len(body)}".encode(), "text/plain")

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = _json_param(params, "files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments", detail="files must be a non-empty JSON array")
        channel_id = params.get("channel_id") or None
        if params.get("channels"):
            channel_id = str(params["channels"]).split(",")[0].strip()
        channel_name = None
        if channel_id:
            if not CHANNEL_ID_PATTERN.match(channel_id):
                raise SlackError(
                    "invalid_arguments",
                    detail=(
                        "input must match regex pattern: ^[CGDZ][A-Z0-9]{8,}$ "
                        "[json-pointer:/channel_id] (use the channel id that chat.postMessage "
                        "returns, not the channel name)"
                    ),
                )
            channel_id, channel_name = self.state.resolve_channel(channel_id)
        thread_ts = params.get("thread_ts") or None
        with self.state.lock:
            records = []
            for entry in files:
                file_id = entry.get("id") if isinstance(entry, dict) else None
                record = self.state.files.get(file_id or "")
                if record is None or not record["uploaded"]:
                    raise SlackError("file_not_found", detail=f"file {file_id!r} was not uploaded")
                records.append((entry, record))
            message = self.state.add_message(
                {
                    "kind": "file_share",
                    "channel": channel_id,
                    "channel_name": channel_name,
                    "text": params.get("initial_comment") or "",
                    "blocks": None,
                    "thread_ts": str(thread_ts) if thread_ts else None,
                    "files": [record["id"] for _, record in records],
                    "params": {k: v for k, v in params.items() if k != "files"},
                }
            )
            shared = []
            for entry, record in records:
                record = {
                    **record,
                    "title": entry.get("title") or record["name"],
                    "completed": True,
                    "channel": channel_id,
                    "thread_ts": message["thread_ts"],
                    "message_ts": message["ts"],
                }
                self.state.add_file(record)
                shared.append(self._slack_file(record))
        return {"files": shared}

    def _slack_file(self, record: dict[str, Any]) -> dict[str, Any]:
        url = f"{self._base_url()}{FILES_PREFIX}{record['id']}/{quote(record['name'])}"
        share: dict[str, Any] = {"ts": record["message_ts"]}
        if record["thread_ts"]:
            share["thread_ts"] = record["thread_ts"]
        return {
            "id": record["id"],
            "name": record["name"],
            "title": record["title"],
            "size": record["size"],
            "url_private": url,
            "url_private_download": url,
            "permalink": url,
            "channels": [record["channel"]] if record["channel"] else [],
            "shares": {"public": {record["channel"]: [share]}} if record["channel"] else {},
        }

    def _download(self, rest: str) -> None:
        file_id = unquote(rest).split("/", 1)[0]
        with self.state.lock:
            record = self.state.files.get(file_id)
        if not record or not record.get("path") or not Path(record["path"]).exists():
            self._send_json({"ok": False, "error": "file_not_found"}, 404)
            return
        data = Path(record["path"]).read_bytes()
        content_type = (
            "application/pdf" if record["name"].endswith(".pdf") else "application/octet-stream"
        )
        self._send(200, data, content_type)

    METHODS: ClassVar[dict[str, Any]] = {
        "auth.test": _auth_test,
        "chat.postMessage": _chat_post_message,
        "conversations.history": _conversations_history,
        "users.conversations": _users_conversations,
        "files.getUploadURLExternal": _files_get_upload_url,
        "files.completeUploadExternal": _files_complete_upload,
    }

    # -- the page ----------------------------------------------------------------------

    def _page(self) -> str:
        with self.state.lock:
            messages = list(self.state.messages)
            files = dict(self.state.files)
            channels = dict(self.state.channels)
        return render_page(messages, files, channels, self._base_url())


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true")


def _ts_param(params: dict[str, Any], name: str, default: int | None) -> int | None:
    """A Slack timestamp parameter ("1700000000.000100" or "1700000000") in microseconds."""
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return _ts_to_micros(str(value))
    except ValueError:
        raise SlackError("invalid_ts_" + name) from None


def _valid_metadata(metadata: Any) -> bool:
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and bool(metadata["event_type"])
        and isinstance(metadata.get("event_payload"), dict)
    )


def _slack_message(message: dict[str, Any], *, with_metadata: bool = False) -> dict[str, Any]:
    """A stored message as Slack's API shows it; metadata only when asked for, as Slack."""
    out = {
        "type": "message",
        "subtype": "bot_message",
        "text": message["text"],
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "ts": message["ts"],
        "team": TEAM_ID,
    }
    if message.get("blocks") is not None:
        out["blocks"] = message["blocks"]
    if message.get("thread_ts"):
        out["thread_ts"] = message["thread_ts"]
    if with_metadata and message.get("metadata"):
        out["metadata"] = message["metadata"]
    return out


# -- HTML page -------------------------------------------------------------------------

MAX_THREADS_PER_CHANNEL = 200


# Slack's mrkdwn, rendered as the Slack client shows it. User text arrives with `&`, `<` and
# `>` as entities; a raw `<…>` is a link or a mention. Every piece of text is HTML-escaped
# after the entities are decoded, so nothing a message says can become markup on this page.
CODE_BLOCK = re.compile(r"```(.*?)```", re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
ANGLE = re.compile(r"<([^<>\n]*)>")
STYLES = (
    ("strong", re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")),
    ("em", re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")),
    ("del", re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])")),
)
EMOJI = {
    "tada": "🎉",
    "x": "❌",
    "turtle": "🐢",
    "warning": "⚠️",
    "lock": "🔒",
    "bell": "🔔",
    "bar_chart": "📊",
    "white_check_mark": "✅",
    "rotating_light": "🚨",
    "page_facing_up": "📄",
}
EMOJI_NAME = re.compile(r":([a-z0-9_+-]+):")
LINK_SCHEMES = ("http://", "https://", "mailto:")
# Slack-like looks for what the renderer emits (the page template styles the rest).
MRKDWN_STYLE = """<style>
  code, pre.code { font-family: ui-monospace, Menlo, monospace; font-size: 12px;
    background: #f6f6f6; border: 1px solid #e0e0e0; border-radius: 3px; }
  code { padding: 0 3px; color: #c01343; }
  pre.code { padding: 6px 8px; margin: 4px 0; white-space: pre-wrap; }
  .fields { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 24px; margin: 4px 0; }
  .mention { background: #e8f5fa; color: #1264a3; border-radius: 3px; padding: 0 2px; }
  .header { font-weight: bold; font-size: 16px; }
</style>"""


def _unescape(text: str) -> str:
    """Slack's three entities back to characters (only those: `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _plain_html(text: str) -> str:
    """Text outside code and links: entities decoded, HTML-escaped, then bold, italic,
    strike and emoji applied (markers and emoji names survive HTML escaping unchanged)."""
    out = html.escape(_unescape(text), quote=False)
    for tag, pattern in STYLES:
        out = pattern.sub(lambda m, tag=tag: f"<{tag}>{m.group(1)}</{tag}>", out)
    return EMOJI_NAME.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), out)


def _angle_html(inner: str) -> str:
    """`<https://x|label>`, `<@U123>`, `<!here>`, `<#C123|name>` as Slack shows them."""
    target, _, label = inner.partition("|")
    if target[:1] in ("@", "#"):
        shown = label or target[1:]
        return f'<span class="mention">{target[0]}{html.escape(_unescape(shown))}</span>'
    if target.startswith("!"):
        shown = label or target[1:].split("^")[0]
        return f'<span class="mention">@{html.escape(_unescape(shown))}</span>'
    url = _unescape(target)
    if url.lower().startswith(LINK_SCHEMES):
        text = html.escape(_unescape(label or target), quote=False)
        return f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">{text}</a>'
    return html.escape(_unescape(f"<{inner}>"), quote=False)


def _inline_html(text: str) -> str:
    parts = []
    for index, piece in enumerate(INLINE_CODE.split(text)):
        if index % 2:
            parts.append(f"<code>{html.escape(_unescape(piece))}</code>")
            continue
        for link_index, chunk in enumerate(ANGLE.split(piece)):
            parts.append(_angle_html(chunk) if link_index % 2 else _plain_html(chunk))
    return "".join(parts)


def mrkdwn_to_html(text: str) -> str:
    """HTML for one mrkdwn text: code blocks, inline code, links, bold, italic, strike."""
    parts = []
    for index, piece in enumerate(CODE_BLOCK.split(text)):
        if index % 2:
            body = html.escape(_unescape(piece.strip("\n")))
            parts.append(f'<pre class="code">{body}</pre>')
        else:
            parts.append(_inline_html(piece))
    return "".join(parts)


def _text_html(item: Any, css: str = "text") -> str:
    """A Block Kit text object (`mrkdwn` or `plain_text`) as a div."""
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return ""
    if item.get("type") == "plain_text":
        body = EMOJI_NAME.sub(
            lambda m: EMOJI.get(m.group(1), m.group(0)), html.escape(item["text"], quote=False)
        )
    else:
        body = mrkdwn_to_html(item["text"])
    return f'<div class="{css}">{body}</div>'


def _blocks_html(blocks: list[Any]) -> str:
    """The visible part of Block Kit blocks: header, section text and fields, context, divider."""
    out = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            out.append(_text_html(block.get("text"), "text header"))
        elif kind == "section":
            out.append(_text_html(block.get("text")))
            fields = "".join(_text_html(item) for item in block.get("fields") or [])
            if fields:
                out.append(f'<div class="fields">{fields}</div>')
        elif kind == "context":
            out.extend(_text_html(item, "meta") for item in block.get("elements") or [])
        elif kind == "divider":
            out.append("<hr>")
    return "".join(out)


def _render_message(message: dict[str, Any], files: dict[str, dict[str, Any]], base: str) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(message["received_at"]))
    body = _blocks_html(message.get("blocks") or [])
    if not body:
        body = f'<div class="text">{mrkdwn_to_html(message.get("text") or "")}</div>'
    links = []
    for file_id in message.get("files") or []:
        record = files.get(file_id, {})
        name = record.get("name", file_id)
        href = f"{base}{FILES_PREFIX}{quote(file_id)}/{quote(name)}"
        size = record.get("size") or 0
        links.append(
            f'<a class="file" href="{html.escape(href)}">📄 {html.escape(name)}</a>'
            f' <span class="meta">{size:,} bytes</span>'
        )
    return (
        f'<div class="msg"><span class="meta">{html.escape(when)} · ts {html.escape(message["ts"])}'
        f"</span>{body}{''.join(links)}</div>"
    )


def render_page(
    messages: list[dict[str, Any]],
    files: dict[str, dict[str, Any]],
    channels: dict[str, str],
    base: str,
) -> str:
    by_channel: dict[str, list[dict[str, Any]]] = {}
    replies: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for message in messages:
        key = message.get("channel") or "(no channel: private files)"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            replies.setdefault((key, thread_ts), []).append(message)
        else:
            by_channel.setdefault(key, []).append(message)
    sections = []
    for channel_id, tops in sorted(by_channel.items(), key=lambda kv: channels.get(kv[0], kv[0])):
        name = channels.get(channel_id, channel_id)
        threads = []
        for top in reversed(tops[-MAX_THREADS_PER_CHANNEL:]):
            thread = replies.get((channel_id, top["ts"]), [])
            inner = "".join(_render_message(reply, files, base) for reply in thread)
            count = f'<div class="meta">{len(thread)} replies</div>' if thread else ""
            threads.append(
                f'<div class="thread">{_render_message(top, files, base)}{count}'
                f'<div class="replies">{inner}</div></div>'
            )
        sections.append(
            f'<section><h2>{html.escape(name)} <span class="meta">{html.escape(channel_id)} · '
            f"{len(tops)} messages</span></h2>{''.join(threads)}</section>"
        )
    body = MRKDWN_STYLE + ("".join(sections) or '<p class="empty">No messages yet.</p>')
    template = PAGE_TEMPLATE.read_text(encoding="utf-8") if PAGE_TEMPLATE.exists() else "{{body}}"
    return template.replace("{{count}}", str(len(messages))).replace("{{body}}", body)


# -- server ----------------------------------------------------------------------------


def make_server(
    host: str,
    port: int,
    data_dir: Path,
    *,
    token: str,
    channels: tuple[str, ...] = DEFAULT_CHANNELS,
    quiet: bool = False,
) -> ThreadingHTTPServer:
    """A stub that accepts exactly `token` and whose bot is a member of `channels`."""
    if not token:
        raise ValueError("the Slack stub needs the one bot token it accepts")
    state = StubState(data_dir=data_dir, member_channels=channels)
    state.load()
    handler = type(
        "BoundSlackStubHandler",
        (SlackStubHandler,),
        {"state": state, "token": token, "quiet": quiet},
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--data-dir", type=Path, default=Path(".devstack/slack"))
    parser.add_argument(
        "--channel",
        action="append",
        default=None,
        help="a channel the bot is a member of (repeat it); default: SLACK_ALERTS_CHANNEL and "
        "SLACK_REPORTS_CHANNEL, else #portal-alerts and #portal-analytics",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    # The token comes from the environment only, never the command line (ps shows that).
    token = os.environ.get("SLACK_BOT_TOKEN", "").strip()
    if not token:
        print(
            "slack-stub: SLACK_BOT_TOKEN is not set: set it to the bot token the stub must "
            "accept (make up reads it from .env)",
            file=sys.stderr,
        )
        return 2
    channels = tuple(args.channel or ()) or tuple(
        os.environ.get(name, "").strip() or default
        for name, default in zip(CHANNEL_VARIABLES, DEFAULT_CHANNELS, strict=True)
    )
    try:
        server = make_server(
            args.host, args.port, args.data_dir, token=token, channels=channels, quiet=args.quiet
        )
    except OSError as error:
        print(f"slack-stub: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    host, port = server.server_address[:2]
    print(
        f"slack-stub listening on http://{host}:{port}/ "
        f"(Web API http://{host}:{port}{API_PREFIX}, data {args.data_dir})",
        flush=True,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean shutdown on SIGTERM
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
