"""A replay of the journey stream: a time range, or one user's journey, read from the lake as
it is now, so a new consumer can bootstrap from it (SPEC §10).

A replay is outside the exactly-once promise: its records carry the header
`analytics-replay: true` and the same identities as the live ones, so a consumer can drop what
it has seen. Actions go out under the key they have now, with their current attribution, each
key's in event-time order; the links of the replayed user (or those made in the range) go out
as `identified` records, so a consumer can merge a browser's history without the lake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import duckdb

from analytics_pipeline.streams.journey_lake import SQL_FILE, action_row
from analytics_pipeline.streams.records import IdentityChange, StreamRecord, build_publish
from analytics_pipeline.warehouse.connection import transaction
from analytics_pipeline.warehouse.named_sql import run


class ReplaySelectionError(ValueError):
    """A replay asked for nothing, or for an empty or unreadable range."""


def parse_moment(text: str, *, field: str) -> datetime:
    """An RFC 3339 time (`2026-03-01T10:00:00Z`) or a day (`2026-03-01`, its midnight UTC)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ReplaySelectionError(
            f"{field}: {text!r} is neither a day (2026-03-01) nor an RFC 3339 time "
            "(2026-03-01T10:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise ReplaySelectionError(f"{field}: {text!r} has no time zone; add Z for UTC")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class ReplaySelection:
    """What to replay: actions with start <= ts < end (either bound may be open), of one user
    when `user_id` is set. At least a bound or a user: a replay of everything is asked for
    by naming its range."""

    start: datetime | None = None
    end: datetime | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        if self.start is None and self.end is None and not self.user_id:
            raise ReplaySelectionError(
                "a replay needs a time range (start and/or end) or a user_id; to replay "
                "everything, give a start before the first event (e.g. 2000-01-01)"
            )
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ReplaySelectionError(
                f"start ({self.start.isoformat()}) must be before end ({self.end.isoformat()})"
            )

    @classmethod
    def parse(
        cls, *, start: str | None = None, end: str | None = None, user_id: str | None = None
    ) -> ReplaySelection:
        return cls(
            start=parse_moment(start, field="start") if start else None,
            end=parse_moment(end, field="end") if end else None,
            user_id=user_id or None,
        )

    def describe(self) -> str:
        parts = []
        if self.user_id:
            parts.append(f"user {self.user_id!r}")
        if self.start or self.end:
            begin = self.start.isoformat() if self.start else "the beginning"
            finish = self.end.isoformat() if self.end else "now"
            parts.append(f"from {begin} to {finish}")
        return ", ".join(parts)


def replay_records(
    conn: duckdb.DuckDBPyConnection,
    selection: ReplaySelection,
    *,
    clickstream_topic: str,
    backend_topic: str,
) -> list[StreamRecord]:
    """The records of a replay, read in one snapshot of the lake."""
    params = {
        "start": selection.start,
        "end": selection.end,
        "user_id": selection.user_id,
        "clickstream_topic": clickstream_topic,
        "backend_topic": backend_topic,
    }
    with transaction(conn):
        rows = run(conn, SQL_FILE, "replay_actions", params).fetchall()
        actions = [action_row(row) for row in rows]
        links = [
            IdentityChange(*row)
            for row in run(
                conn,
                SQL_FILE,
                "replay_identities",
                {k: params[k] for k in ("start", "end", "user_id")},
            ).fetchall()
        ]
    return build_publish(actions, links, {})
