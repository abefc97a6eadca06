"""Data-quality checks of the raw tables, as plain SQL results (the Dagster layer reports them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from analytics_pipeline.events.wire import Kind
from analytics_pipeline.warehouse.connection import transaction
from analytics_pipeline.warehouse.raw_tables import KEY_TABLES, RAW_TABLES, event_key


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
    the run's keys among all keys (see raw_tables) and compares event_ids only in the batches
    of keys that repeat, instead of scanning every stored event_id on every run. That proves
    something only while the key table holds one key per row: if the counts differ, it fails
    and compares the run's event_ids with every stored one.
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
    # One run's batches are consecutive; zone maps on ingest_batch_id find its rows.
    run_rows = f"SELECT * FROM {table} WHERE ingest_batch_id BETWEEN $first AND $last"
    batches = {"first": min(batch_ids), "last": max(batch_ids)}
    checked, rows, key_rows = conn.execute(
        f"""
        SELECT (SELECT count(DISTINCT event_id) FROM ({run_rows})),
               (SELECT count(*) FROM {table}), (SELECT count(*) FROM {keys})
        """,  # table names from constants
        batches,
    ).fetchall()[0]
    keys_match = rows == key_rows
    if keys_match:
        # Rows of keys that repeat a key of this run: a duplicate, or (rarely) a collision.
        suspects = f"""
            SELECT k.ingest_batch_id, k.event_key FROM {keys} AS k
            WHERE k.event_key IN (
                SELECT k2.event_key FROM {keys} AS k2
                SEMI JOIN (SELECT {event_key("event_id")} AS event_key FROM ({run_rows})) AS n
                    ON n.event_key = k2.event_key
                GROUP BY k2.event_key HAVING count(*) > 1)
        """
        candidates = f"""
            SELECT r.event_id FROM {table} AS r
            SEMI JOIN ({suspects}) AS s
                ON s.ingest_batch_id = r.ingest_batch_id AND s.event_key = {event_key("r.event_id")}
        """
    else:
        candidates = f"""
            SELECT r.event_id FROM {table} AS r
            SEMI JOIN ({run_rows}) AS n ON n.event_id = r.event_id
        """
    duplicates = conn.execute(
        f"SELECT count(*) FROM (SELECT event_id FROM ({candidates}) "
        "GROUP BY event_id HAVING count(*) > 1)",
        batches,
    ).fetchall()[0][0]
    metadata = {"event_ids_checked": checked, "duplicates": duplicates}
    stored_twice = (
        f"{duplicates} of the {checked} event_ids this run stored are stored more than once"
    )
    if not keys_match:
        return CheckOutcome(
            "no_duplicate_event_ids",
            False,
            "ERROR",
            f"{stored_twice}, and {keys} holds {key_rows} keys for the {rows} rows of {table} "
            "(rows were added or deleted outside the pipeline, so later duplicates may have "
            "been stored). Reopening the warehouse rebuilds the keys; rows already stored twice "
            "stay until removed by hand.",
            {**metadata, "rows": rows, "keys": key_rows},
        )
    return CheckOutcome("no_duplicate_event_ids", duplicates == 0, "ERROR", stored_twice, metadata)


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
    Callable[[duckdb.DuckDBPyConnection, Kind, str, float, Sequence[int]], CheckOutcome],
    ...,
] = (
    _no_duplicate_event_ids,
    _ledger_covers_stored_offsets,
    _dead_letter_share,
)


RETENTION_CHECK = "nothing_lost_to_retention"


def retention_outcome(lost_by_partition: Mapping[int, int]) -> CheckOutcome:
    """Offsets Kafka deleted (retention) before this run could read them: lost for good.

    ERROR, not WARN: "nothing lost" is the pipeline's first promise, and these messages are
    gone from Kafka; the check's history in the UI is where an operator sees it. The run still
    succeeds, so what Kafka still has is stored and the journeys and alerts go on.
    """
    lost = sum(lost_by_partition.values())
    return CheckOutcome(
        RETENTION_CHECK,
        lost == 0,
        "ERROR",
        "no offset of this run's ranges was deleted by Kafka retention before it was read"
        if not lost
        else f"{lost} messages were deleted by Kafka retention before they could be ingested "
        "(lost for good): ingest fell further behind than the topic's retention.ms; raise "
        "retention or find why the runs did not keep up",
        {
            "lost_to_retention": lost,
            "lost_by_partition": {str(p): n for p, n in sorted(lost_by_partition.items())},
        },
    )


def check_names() -> list[str]:
    return [check.__name__.lstrip("_") for check in CHECKS] + [RETENTION_CHECK]


def run_checks(
    conn: duckdb.DuckDBPyConnection,
    *,
    kind: Kind,
    topic: str,
    warn_share: float,
    batch_ids: Sequence[int] = (),
    lost_by_partition: Mapping[int, int] | None = None,
) -> list[CheckOutcome]:
    """Every check after an ingest run; `batch_ids` are the ingest batches that run wrote and
    `lost_by_partition` the offsets retention deleted before it read them.

    The checks read one snapshot, in one read-only transaction: each statement outside a
    transaction pays its own snapshot look-up and commit in the catalog.
    """
    with transaction(conn):
        outcomes = [check(conn, kind, topic, warn_share, batch_ids) for check in CHECKS]
    return [*outcomes, retention_outcome(lost_by_partition or {})]
