"""Data-quality checks of the raw tables, as plain SQL results (the Dagster layer reports them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from analytics_pipeline.events.wire import Kind
from analytics_pipeline.warehouse.raw_writer import EVENT_KEY, KEY_TABLES, RAW_TABLES


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    severity: str  # "ERROR" or "WARN" (dagster.AssetCheckSeverity values)
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _no_duplicate_event_ids(
    conn, kind: Kind, topic: str, warn_share: float, batch_ids: Sequence[int]
) -> CheckOutcome:
    """The rows this run stored must not share an event_id with any stored row.

    Checked per run, this keeps the whole table free of duplicates by induction. It looks for
    the run's keys among all keys (8-byte, see raw_writer.KEY_TABLES) and compares event_ids
    only for keys that repeat, instead of scanning every stored event_id on every run. The key
    table must hold one key per raw row for that to prove anything; a mismatch fails too.
    """
    table, keys = RAW_TABLES[kind], KEY_TABLES[kind]
    if not batch_ids:
        return CheckOutcome(
            "no_duplicate_event_ids",
            True,
            "ERROR",
            "this run stored no rows",
            {"event_ids_checked": 0, "duplicates": 0},
        )
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE run_keys AS
        SELECT DISTINCT {EVENT_KEY.format("event_id")} AS event_key FROM {table}
        WHERE ingest_batch_id BETWEEN $first AND $last
        """,  # table name from a constant
        {"first": min(batch_ids), "last": max(batch_ids)},  # one run's batches are consecutive
    )
    checked, repeated, rows, key_rows = conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE repeated_keys AS
        SELECT k.event_key FROM {keys} AS k SEMI JOIN run_keys AS r ON r.event_key = k.event_key
        GROUP BY k.event_key HAVING count(*) > 1;
        SELECT (SELECT count(*) FROM run_keys), (SELECT count(*) FROM repeated_keys),
               (SELECT count(*) FROM {table}), (SELECT count(*) FROM {keys})
        """  # table names from constants
    ).fetchall()[0]
    duplicates = 0
    if repeated:  # a repeated key: a duplicate, or (rarely) two event_ids with one key
        duplicates = conn.execute(
            f"""
            SELECT count(*) FROM (
                SELECT event_id FROM {table}
                WHERE {EVENT_KEY.format("event_id")} IN (SELECT event_key FROM repeated_keys)
                GROUP BY event_id HAVING count(*) > 1)
            """
        ).fetchall()[0][0]
    conn.execute("DROP TABLE run_keys; DROP TABLE repeated_keys")
    metadata = {"event_ids_checked": checked, "duplicates": duplicates}
    if rows != key_rows:
        return CheckOutcome(
            "no_duplicate_event_ids",
            False,
            "ERROR",
            f"{keys} holds {key_rows} keys for {rows} rows of {table}; reopening the "
            "warehouse rebuilds it",
            {**metadata, "rows": rows, "keys": key_rows},
        )
    return CheckOutcome(
        "no_duplicate_event_ids",
        duplicates == 0,
        "ERROR",
        f"{duplicates} of the {checked} event_ids this run stored are stored more than once",
        metadata,
    )


def _ledger_covers_stored_offsets(
    conn, kind: Kind, topic: str, warn_share: float, batch_ids: Sequence[int]
) -> CheckOutcome:
    table = RAW_TABLES[kind]
    rows = conn.execute(
        f"""
        WITH stored AS (
            SELECT kafka_partition, max(kafka_offset) AS max_offset FROM {table}
            WHERE kafka_topic = $topic GROUP BY ALL
            UNION ALL
            SELECT kafka_partition, max(kafka_offset) FROM dead_letter_events
            WHERE topic = $topic GROUP BY ALL
        )
        SELECT s.kafka_partition, max(s.max_offset), any_value(l.next_offset)
        FROM stored AS s
        LEFT JOIN ingest_offsets AS l
            ON l.topic = $topic AND l.kafka_partition = s.kafka_partition
        GROUP BY s.kafka_partition
        HAVING any_value(l.next_offset) IS NULL OR max(s.max_offset) >= any_value(l.next_offset)
        """,
        {"topic": topic},
    ).fetchall()
    bad = [{"partition": p, "max_stored_offset": o, "ledger_next_offset": n} for p, o, n in rows]
    return CheckOutcome(
        "ledger_covers_stored_offsets",
        not bad,
        "ERROR",
        "every stored offset is below the ledger's next_offset"
        if not bad
        else f"{len(bad)} partitions have stored offsets beyond the ledger",
        {"inconsistent_partitions": bad},
    )


def _dead_letter_share(
    conn, kind: Kind, topic: str, warn_share: float, batch_ids: Sequence[int]
) -> CheckOutcome:
    table = RAW_TABLES[kind]
    valid, dead = conn.execute(
        f"""
        SELECT
            (SELECT count(*) FROM {table}
             WHERE kafka_topic = $topic AND ingested_at > now() - INTERVAL 24 HOUR),
            (SELECT count(*) FROM dead_letter_events
             WHERE topic = $topic AND ingested_at > now() - INTERVAL 24 HOUR)
        """,
        {"topic": topic},
    ).fetchall()[0]
    share = dead / (valid + dead) if valid + dead else 0.0
    return CheckOutcome(
        "dead_letter_share",
        share <= warn_share,
        "WARN",
        f"{share:.2%} of the messages ingested in the last 24 h were invalid "
        f"(warns above {warn_share:.0%})",
        {"dead_letters_24h": dead, "valid_24h": valid, "share": round(share, 6)},
    )


CHECKS: tuple[
    Callable[[duckdb.DuckDBPyConnection, Kind, str, float, Sequence[int]], CheckOutcome], ...
] = (
    _no_duplicate_event_ids,
    _ledger_covers_stored_offsets,
    _dead_letter_share,
)


def check_names() -> list[str]:
    return [check.__name__.lstrip("_") for check in CHECKS]


def run_checks(
    conn: duckdb.DuckDBPyConnection,
    *,
    kind: Kind,
    topic: str,
    warn_share: float,
    batch_ids: Sequence[int] = (),
) -> list[CheckOutcome]:
    """Every check after an ingest run; `batch_ids` are the ingest batches that run wrote."""
    return [check(conn, kind, topic, warn_share, batch_ids) for check in CHECKS]
