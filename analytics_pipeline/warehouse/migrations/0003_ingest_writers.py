"""Migration 0003, the data half: the journeys watermark moves from a batch id to a snapshot.

Before 0003, batches committed one at a time in the order of their ids, so every raw row of
a batch above the old watermark was committed after every row below it: the new watermark is
the snapshot just before the first such row (or the lake's snapshot when there is none). The
funnel marks not reported yet are re-stamped with it, so `unreported_stale_from` still finds
them. The alert rules' watermark moves the same way, from a journey event's batch id to the
snapshot the journeys step committed it in. Reads only what is committed, so it may run again
after a conflict.
"""

import duckdb

OLD_NAME, NEW_NAME = "journeys", "journeys_snapshot"
ALERTS = "alerts"


def migrate(conn: duckdb.DuckDBPyConnection) -> None:
    _move_journeys_watermark(conn)
    _move_alerts_watermark(conn)


def _current_snapshot(conn: duckdb.DuckDBPyConnection) -> int:
    [(current,)] = conn.execute(
        "SELECT id FROM ducklake_current_snapshot(current_database())"
    ).fetchall()
    return int(current)


def _move_alerts_watermark(conn: duckdb.DuckDBPyConnection) -> None:
    row = conn.execute(
        "SELECT max(value) FROM pipeline_watermarks WHERE name = $name", {"name": ALERTS}
    ).fetchone()
    if row is None or row[0] is None:
        return
    [(pending,)] = conn.execute(
        "SELECT min(committed_snapshot) FROM journey_events WHERE ingest_batch_id > $after",
        {"after": row[0]},
    ).fetchall()
    watermark = pending - 1 if pending is not None else _current_snapshot(conn)
    conn.execute(
        "UPDATE pipeline_watermarks SET value = $value WHERE name = $name",
        {"name": ALERTS, "value": watermark},
    )


def _move_journeys_watermark(conn: duckdb.DuckDBPyConnection) -> None:
    [(after,)] = conn.execute(
        "SELECT coalesce(max(value), 0) FROM pipeline_watermarks WHERE name = $name",
        {"name": OLD_NAME},
    ).fetchall()
    [(pending,)] = conn.execute(
        """
        SELECT min(snapshot_id) FROM (
            SELECT snapshot_id FROM raw_clickstream_events WHERE ingest_batch_id > $after
            UNION ALL
            SELECT snapshot_id FROM raw_backend_events WHERE ingest_batch_id > $after
        )
        """,
        {"after": after},
    ).fetchall()
    watermark = pending - 1 if pending is not None else _current_snapshot(conn)
    conn.execute(
        "DELETE FROM pipeline_watermarks WHERE name IN ($old, $new)",
        {"old": OLD_NAME, "new": NEW_NAME},
    )
    conn.execute(
        "INSERT INTO pipeline_watermarks VALUES ($name, $value, now())",
        {"name": NEW_NAME, "value": watermark},
    )
    conn.execute(
        "UPDATE funnel_stale_marks SET ingest_batch_id = $watermark "
        "WHERE reported_at IS NULL AND ingest_batch_id <= $after",
        {"watermark": watermark, "after": after},
    )
