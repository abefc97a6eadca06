"""Run the wire-format validation query of `events.wire` outside the ingest writer.

The ingest writer validates whole batches inside its warehouse transaction; tests, tools and
the fuzzing suite need the very same verdicts without a warehouse. This runs the same
`validation_sql` on an in-memory DuckDB (one per thread), so `events` stays free of I/O.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from analytics_pipeline.events.strict import strictly_clean
from analytics_pipeline.events.wire import Kind, Reason, Rejection, WireEvent, validation_sql

_local = threading.local()


def _scratch() -> duckdb.DuckDBPyConnection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = duckdb.connect()
        conn.execute("SET TimeZone = 'UTC'")
    return conn


def validate_values(
    kind: Kind, values: Sequence[bytes | None], now: datetime, *, precheck: bool = True
) -> list[WireEvent | Rejection]:
    """Validate many message values of the `kind` topic as of `now` (aware) in one query, the
    way the ingest writer validates a batch; one verdict per value, in order.

    `precheck=False` runs the query's full strictness checks on every value instead of
    skipping them for values `events.strict` proved clean: the reference the fast path is
    tested against (the verdicts must be identical)."""
    if not values:
        return []
    incoming = pa.table(
        {
            "seq": pa.array(range(len(values)), pa.int64()),
            "value": pa.array(values, pa.binary()),
            "clean": pa.array(
                strictly_clean(values) if precheck else [False] * len(values), pa.bool_()
            ),
        }
    )
    conn = _scratch()
    conn.register("incoming", incoming)
    try:
        rows = conn.execute(
            "SELECT seq, reason, detail, event_id, type, ts, user_id, payload "
            f"FROM ({validation_sql(kind)}) ORDER BY seq",
            {"now": now},
        ).fetchall()
    finally:
        conn.unregister("incoming")
    verdicts: list[WireEvent | Rejection] = []
    for seq, reason, detail, event_id, event_type, ts, user_id, payload in rows:
        if reason is not None:
            verdicts.append(Rejection(Reason(reason), detail))
        else:
            body = json.loads(payload)
            verdicts.append(WireEvent(event_id, event_type, ts, user_id, body, payload))
        assert seq == len(verdicts) - 1
    return verdicts


def parse_message(kind: Kind, value: bytes | None, now: datetime) -> WireEvent | Rejection:
    """Validate one message value of the `kind` topic as of `now` (aware), with the same query
    the ingest path runs on whole batches."""
    return validate_values(kind, [value], now)[0]
