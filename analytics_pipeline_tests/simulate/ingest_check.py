"""What ingestion decides for simulated messages, asked of the real validator in one batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from analytics_pipeline.events import wire
from analytics_pipeline.events.strict import strictly_clean


def ingest_reasons(kind: wire.Kind, values: Sequence[bytes], now: datetime) -> list[str | None]:
    """Per message: None if ingestion stores it, else its dead-letter reason.

    Runs the very query the ingest path runs on a batch (`wire.validation_sql`), with its
    strict-JSON pre-check.
    """
    incoming = pa.table(
        {
            "seq": pa.array(range(len(values)), pa.int64()),
            "value": pa.array(values, pa.binary()),
            "clean": pa.array(strictly_clean(values), pa.bool_()),
        }
    )
    conn = duckdb.connect()
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.register("incoming", incoming)
        rows = conn.execute(
            f"SELECT seq, reason FROM ({wire.validation_sql(kind)}) ORDER BY seq", {"now": now}
        ).fetchall()
    finally:
        conn.close()
    assert [seq for seq, _ in rows] == list(range(len(values)))
    return [reason for _, reason in rows]
