"""Store a list of messages as one batch through the ingest writer (BatchWriter), for tests
that need stored raw rows without a Kafka broker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import duckdb

from analytics_pipeline.events.wire import Kind
from analytics_pipeline.ingest.writer import (
    BatchResult,
    BatchWriter,
    PreparedBatch,
    RawRecord,
    prepare_batch,
    read_ledger,
)


def write_batch(
    conn: duckdb.DuckDBPyConnection, batch: PreparedBatch, now: datetime
) -> BatchResult:
    """Validate and write a prepared batch (raw rows, dead letters, ledger) in one transaction."""
    writer = BatchWriter(conn, batch.kind, now)
    try:
        writer.add(batch)
    except BaseException:
        writer.rollback()
        raise
    return writer.commit(batch.result)


def store_batch(
    conn: duckdb.DuckDBPyConnection,
    *,
    kind: Kind,
    topic: str,
    records: Sequence[RawRecord],
    end_offsets: Mapping[int, int] | None = None,
    now: datetime | None = None,
) -> BatchResult:
    """Validate `records` and store them with the ledger in one transaction."""
    batch = prepare_batch(
        kind=kind,
        topic=topic,
        records=records,
        ledger=read_ledger(conn, topic),
        end_offsets=end_offsets,
    )
    return write_batch(conn, batch, now or datetime.now(UTC))
