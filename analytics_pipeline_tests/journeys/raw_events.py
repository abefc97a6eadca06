"""Build wire-format events and store them as raw rows, one ingest batch per call.

Journeys and funnel tests need exact raw rows without Kafka: `RawBatches.add(...)` writes
them the way the ingest step does (one `ingest_batch_id` per call, payload = the event).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from analytics_pipeline.ingest.writer import next_batch_id
from analytics_pipeline.warehouse.snapshots import last_committed_snapshot

Event = dict[str, Any]

_ids = itertools.count(1)


def at(day: date | str, hour: int = 12, minute: int = 0) -> str:
    """RFC 3339 UTC timestamp on `day`."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime.combine(day, time(hour, minute), UTC).isoformat().replace("+00:00", "Z")


def days_before(day: date | str, n: int) -> date:
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return day - timedelta(days=n)


def _event(type_: str, ts: str, **fields: Any) -> Event:
    return {"event_id": f"e{next(_ids)}", "type": type_, "ts": ts, **fields}


def api(user_id: str | None, method: str, path: str, status: int, ts: str, **extra: Any) -> Event:
    request = {"method": method, "path": path, "status": status, "duration_ms": 12.5}
    return _event("api_request", ts, user_id=user_id, request=request, **extra)


def signup(user_id: str, ts: str) -> Event:
    return api(user_id, "POST", "/auth/signup", 201, ts)


def topic_created(user_id: str, ts: str) -> Event:
    """A meaningful action."""
    return api(user_id, "POST", "/projects/p1/topics", 201, ts)


def code_run(user_id: str, ts: str) -> Event:
    """A meaningful action."""
    return api(user_id, "POST", "/projects/p1/runs", 200, ts)


def deployment(user_id: str, status: str, ts: str, deployment_id: str = "d1") -> Event:
    body = {"deployment_id": deployment_id, "status": status, "error_message": None}
    return _event("deployment", ts, user_id=user_id, deployment=body)


def page_view(anonymous_id: str, ts: str, user_id: str | None = None) -> Event:
    return _event(
        "page_view", ts, anonymous_id=anonymous_id, user_id=user_id, page_url="https://p/x"
    )


def identify(anonymous_id: str, user_id: str, ts: str) -> Event:
    return _event("identify", ts, anonymous_id=anonymous_id, user_id=user_id)


def is_clickstream(event: Mapping[str, Any]) -> bool:
    return "anonymous_id" in event


class RawBatches:
    """Appends ingest batches straight into raw_clickstream_events / raw_backend_events."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self._offsets = itertools.count()
        # The lake snapshot of the last insert: where the journeys watermark goes once a
        # journeys step has taken it (journeys/derive.py).
        self.snapshot = 0

    def add(self, *events: Event | Iterable[Event]) -> int:
        """Store `events` as one ingest batch; returns its ingest_batch_id."""
        flat: list[Event] = []
        for item in events:
            flat.extend([item] if isinstance(item, dict) else item)
        batch_id = next_batch_id(self.conn)
        now = datetime.now(UTC)
        clicks = [self._clickstream_row(e, batch_id, now) for e in flat if is_clickstream(e)]
        backend = [self._backend_row(e, batch_id, now) for e in flat if not is_clickstream(e)]
        for table, rows in (("raw_clickstream_events", clicks), ("raw_backend_events", backend)):
            if rows:
                arrow = pa.Table.from_pylist(rows)  # noqa: F841 - read by DuckDB by name
                columns = ", ".join(rows[0])
                self.conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM arrow")
                self.snapshot = last_committed_snapshot(self.conn) or 0
        return batch_id

    def _common(self, event: Event, batch_id: int, now: datetime) -> dict[str, Any]:
        return {
            "kafka_partition": 0,
            "kafka_offset": next(self._offsets),
            "event_id": event["event_id"],
            "type": event["type"],
            "ts": datetime.fromisoformat(event["ts"]),
            "user_id": event.get("user_id"),
            "payload": json.dumps(event),
            "ingested_at": now,
            "ingest_batch_id": batch_id,
        }

    def _clickstream_row(self, event: Event, batch_id: int, now: datetime) -> dict[str, Any]:
        return {
            **self._common(event, batch_id, now),
            "anonymous_id": event["anonymous_id"],
            "session_id": event.get("session_id"),
            "page_url": event.get("page_url"),
        }

    def _backend_row(self, event: Event, batch_id: int, now: datetime) -> dict[str, Any]:
        request = event.get("request") or {}
        error = event.get("error") or {}
        deploy = event.get("deployment") or {}
        return {
            **self._common(event, batch_id, now),
            "method": request.get("method"),
            "path": request.get("path"),
            "status": request.get("status"),
            "duration_ms": request.get("duration_ms"),
            "error_code": error.get("code"),
            "error_message": error.get("message") or deploy.get("error_message"),
            "deployment_id": deploy.get("deployment_id"),
            "deployment_status": deploy.get("status"),
        }
