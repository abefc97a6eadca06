"""A local stand-in for the Slack Web API, for development (`make run`) and tests.

It speaks exactly the methods analytics_pipeline calls through `slack_sdk.WebClient`:

- `auth.test`
- `chat.postMessage`                 (JSON or form body; returns channel id and a unique ts)
- `files.getUploadURLExternal`       (hands out an upload URL pointing back at this stub)
- the upload URL itself              (raw POST of the file bytes)
- `files.completeUploadExternal`     (shares the uploaded files, optionally in a thread)

It checks the bearer token (tokens starting with `xoxb-` by default), stores every message and
file it receives (in memory, in `<data-dir>/events.jsonl` and `<data-dir>/files/`), and can be
told to fail the next calls of a method (HTTP 429 with Retry-After, HTTP 5xx, or a Slack error
such as `invalid_auth`) so tests can exercise retries. `GET /` shows what arrived, grouped by
channel and thread, refreshing itself every few seconds.

Like real Slack, channel names are turned into channel ids (`#portal-alerts` -> `C…`); the id
is derived from the name, so it is stable across restarts. `files.completeUploadExternal`
accepts only ids in `channel_id` (as Slack does): post with `chat.postMessage` first and use the
`channel` it returns.

Control API (for tests and people; no token needed):

    GET  /_stub/health     {"ok": true, ...}
    GET  /_stub/messages   {"messages": [...]}    optional ?channel=<name or id>
    GET  /_stub/files      {"files": [...]}
    GET  /_stub/calls      {"calls": [...]}       every Web API call with its outcome
    GET  /_stub/faults     {"faults": {...}}      what is still queued
    POST /_stub/faults     {"method": "chat.postMessage", "responses": [
                               {"status": 429, "retry_after": 1},
                               {"status": 500},
                               {"error": "invalid_auth"},
                               {"delay": 2.5}]}       queued, one consumed per call
    POST /_stub/reset      forget everything (messages, files, calls, faults)

Standard library only, so it runs before any dependency is installed:

    python devstack/slack_stub.py --host 127.0.0.1 --port 8765 --data-dir .devstack/slack

`--port 0` picks a free port; the first line printed says where it listens.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import re
import shutil
import signal
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
MAX_BODY_BYTES = 1024 * 1024 * 1024  # Slack's own file size limit is 1 GB
TEAM_ID = "T0STUB0001"
BOT_USER_ID = "U0STUBBOT1"
BOT_ID = "B0STUBBOT1"


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
        if not self.journal.exists():
            return
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
            self.journal.unlink(missing_ok=True)
            shutil.rmtree(self.files_dir, ignore_errors=True)

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
        with self.lock:
            for key in (method, "*"):
                queue = self.faults.get(key)
                if queue:
                    return queue.popleft()
            return None

    def queue_faults(self, method: str, responses: list[dict[str, Any]]) -> None:
        with self.lock:
            self.faults.setdefault(method, deque()).extend(responses)

    def log_call(self, method: str, status: int, error: str | None) -> None:
        with self.lock:
            self.calls.append(
                {"method": method, "status": status, "error": error, "at": time.time()}
            )


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
    token: str | None
    token_prefix: str
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
            self._send_json({"faults": faults})
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

    # -- the Web API -------------------------------------------------------------------

    def _handle_api(self, method: str, body: bytes) -> None:
        try:
            fault = self.state.pop_fault(method)
            if fault is not None and self._answer_fault(method, fault):
                return
            params = _parse_body(self.headers.get("Content-Type", ""), body)
            params.update(self._query())
            self._check_token(params.pop("token", None))
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
        self.state.log_call(method, 200, None)
        self._send_json({"ok": True, **result})

    def _answer_fault(self, method: str, fault: dict[str, Any]) -> bool:
        """Play one queued fault; False when it was only a delay and the call goes on."""
        delay = float(fault.get("delay", 0) or 0)
        if delay:
            time.sleep(delay)
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
        self._send_json({"ok": False, "error": error}, status, headers)
        return True

    def _check_token(self, body_token: str | None) -> None:
        authorization = self.headers.get("Authorization", "")
        token = body_token
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        if not token:
            raise SlackError("not_authed")
        valid = token == self.token if self.token else token.startswith(self.token_prefix)
        if not valid:
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
        channel_id, channel_name = self.state.resolve_channel(channel)
        thread_ts = params.get("thread_ts") or None
        message = self.state.add_message(
            {
                "kind": "message",
                "channel": channel_id,
                "channel_name": channel_name,
                "text": text or "",
                "blocks": blocks,
                "thread_ts": str(thread_ts) if thread_ts else None,
                "files": [],
                "params": {k: v for k, v in params.items() if k not in ("text", "blocks")},
            }
        )
        return {"channel": channel_id, "ts": message["ts"], "message": _slack_message(message)}

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


def _slack_message(message: dict[str, Any]) -> dict[str, Any]:
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
    return out


# -- HTML page -------------------------------------------------------------------------

MAX_THREADS_PER_CHANNEL = 200


def _block_texts(blocks: list[Any] | None) -> list[str]:
    """The visible text of Block Kit blocks (header, section text/fields, context)."""
    texts: list[str] = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        text = block.get("text")
        if isinstance(text, dict) and text.get("text"):
            texts.append(str(text["text"]))
        for item in block.get("fields") or []:
            if isinstance(item, dict) and item.get("text"):
                texts.append(str(item["text"]))
        for item in block.get("elements") or []:
            if isinstance(item, dict) and item.get("text") and isinstance(item["text"], str):
                texts.append(item["text"])
    return texts


def _render_message(message: dict[str, Any], files: dict[str, dict[str, Any]], base: str) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(message["received_at"]))
    shown = _block_texts(message.get("blocks")) or [message.get("text") or ""]
    body = "".join(f'<div class="text">{html.escape(text)}</div>' for text in shown)
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
    body = "".join(sections) or '<p class="empty">No messages yet.</p>'
    template = PAGE_TEMPLATE.read_text(encoding="utf-8") if PAGE_TEMPLATE.exists() else "{{body}}"
    return template.replace("{{count}}", str(len(messages))).replace("{{body}}", body)


# -- server ----------------------------------------------------------------------------


def make_server(
    host: str,
    port: int,
    data_dir: Path,
    *,
    token: str | None = None,
    token_prefix: str = "xoxb-",
    quiet: bool = False,
) -> ThreadingHTTPServer:
    state = StubState(data_dir=data_dir)
    state.load()
    handler = type(
        "BoundSlackStubHandler",
        (SlackStubHandler,),
        {"state": state, "token": token, "token_prefix": token_prefix, "quiet": quiet},
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--data-dir", type=Path, default=Path(".devstack/slack"))
    parser.add_argument("--token", default=None, help="accept exactly this token")
    parser.add_argument("--token-prefix", default="xoxb-", help="accept tokens with this prefix")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    try:
        server = make_server(
            args.host,
            args.port,
            args.data_dir,
            token=args.token,
            token_prefix=args.token_prefix,
            quiet=args.quiet,
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
