"""What the stub has received: channels, messages, files and calls, journaled to disk.

A restarted stub replays `<data-dir>/events.jsonl`, so it still shows earlier messages and
files. Like real Slack, channel names are turned into channel ids derived from the name, so an
id is stable across restarts.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHANNEL_ID_PATTERN = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")
MAX_CALLS_KEPT = 10_000


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
    """Everything the stub has received. All access goes through `lock` (the fault injector
    shares it, so a reset forgets both at once)."""

    data_dir: Path
    lock: threading.RLock = field(default_factory=threading.RLock)
    channels: dict[str, str] = field(default_factory=dict)  # id -> name
    messages: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> file record
    calls: deque = field(default_factory=lambda: deque(maxlen=MAX_CALLS_KEPT))
    member_channels: tuple[str, ...] = ()  # names the bot "was invited to"
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
            self.last_ts_micros = max(self.last_ts_micros, ts_to_micros(item["ts"]))
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
            self.journal.unlink(missing_ok=True)
            shutil.rmtree(self.files_dir, ignore_errors=True)
            self._join_member_channels()

    # -- domain ------------------------------------------------------------------------

    def next_ts(self) -> str:
        """Slack-style message ts ("1700000000.000100"): unique and increasing."""
        with self.lock:
            now = int(time.time() * 1_000_000)
            self.last_ts_micros = max(now, self.last_ts_micros + 1)
            return micros_to_ts(self.last_ts_micros)

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

    def log_call(
        self, method: str, status: int, error: str | None, note: str | None = None
    ) -> None:
        """Status 0: the call got no HTTP answer at all (see `note`)."""
        with self.lock:
            call = {"method": method, "status": status, "error": error, "at": time.time()}
            if note:
                call["note"] = note
            self.calls.append(call)


def micros_to_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_to_micros(ts: str) -> int:
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])
