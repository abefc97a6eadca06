"""The Slack Web API methods analytics_pipeline calls, as the stub answers them.

Exactly one bot token is accepted (any other gets `invalid_auth`, before any injected fault
is played). `files.completeUploadExternal` and `conversations.history` accept only channel ids,
as Slack does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, unquote

from .faults import FaultInjector
from .store import CHANNEL_ID_PATTERN, SlackError, StubState, ts_to_micros
from .urls import FILES_PREFIX, UPLOAD_PREFIX

TEAM_ID = "T0STUB0001"
BOT_USER_ID = "U0STUBBOT1"
BOT_ID = "B0STUBBOT1"


class SlackWebApi:
    """The request handler's part that answers /api/ calls, uploads and file downloads."""

    state: StubState
    faults: FaultInjector
    token: str  # the one bot token accepted

    def _handle_api(self, method: str, body: bytes) -> None:
        """One Web API call: the token first (like Slack), then any injected fault, then the
        method itself."""
        fault: dict[str, Any] | None = None
        try:
            params = _parse_body(self.headers.get("Content-Type", ""), body)
            params.update(self._query())
            self._check_token(params.pop("token", None))
            fault = self.faults.pop(method)
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
            micros = ts_to_micros(message["ts"])
            above = micros >= oldest if inclusive else micros > oldest
            below = latest is None or (micros <= latest if inclusive else micros < latest)
            return above and below

        selected = sorted(
            (m for m in messages if in_range(m)), key=lambda m: ts_to_micros(m["ts"])
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
        fault = self.faults.pop("upload")
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


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true")


def _ts_param(params: dict[str, Any], name: str, default: int | None) -> int | None:
    """A Slack timestamp parameter ("1700000000.000100" or "1700000000") in microseconds."""
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return ts_to_micros(str(value))
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
