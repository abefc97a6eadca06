"""The stub's HTTP server: routing, the control API (/_stub/…), the page, and `main`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import __doc__ as PACKAGE_DOC
from .api import SlackWebApi
from .faults import FaultInjector, FaultPlaying
from .page import render_page
from .store import SlackError, StubState, channel_id_for
from .urls import API_PREFIX, FILES_PREFIX, UPLOAD_PREFIX

MAX_BODY_BYTES = 1024 * 1024 * 1024  # Slack's own file size limit is 1 GB
DEFAULT_CHANNELS = ("#portal-alerts", "#portal-analytics")
CHANNEL_VARIABLES = ("SLACK_ALERTS_CHANNEL", "SLACK_REPORTS_CHANNEL")


class SlackStubHandler(SlackWebApi, FaultPlaying, BaseHTTPRequestHandler):
    server_version = "SlackStub/1.0"
    state: StubState  # set on the subclass built by make_server
    faults: FaultInjector
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
            self._send_json(self.faults.snapshot())
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
            with self.state.lock:  # one lock: a reset forgets faults and records at once
                self.faults.reset()
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

    # -- the page ----------------------------------------------------------------------

    def _page(self) -> str:
        with self.state.lock:
            messages = list(self.state.messages)
            files = dict(self.state.files)
            channels = dict(self.state.channels)
        return render_page(messages, files, channels, self._base_url())


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
        {"state": state, "faults": FaultInjector(state.lock), "token": token, "quiet": quiet},
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=PACKAGE_DOC.split("\n\n")[0])
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
