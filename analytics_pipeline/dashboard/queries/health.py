"""The Pipeline health page's queries: the ingest ledger, the streams' lake side, dead letters
and funnel gaps."""

from __future__ import annotations

import duckdb
import pandas as pd

from analytics_pipeline.dashboard.queries.shared import dataframe, day_params, instant_params
from analytics_pipeline.dashboard.ranges import DayRange
from analytics_pipeline.streams.journey_lake import journeys_watermark, read_lake_id

SAMPLE_BYTES = 400  # bytes of a dead letter's raw value shown


def ingest_ledger(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The committed offsets: the next offset the pipeline will read, per topic and partition."""
    return dataframe(
        conn,
        "SELECT topic, kafka_partition, max(next_offset) AS next_offset, "
        "max(updated_at) AS updated_at FROM ingest_offsets GROUP BY topic, kafka_partition "
        "ORDER BY topic, kafka_partition",
        {},
    )


def stream_lake_state(conn: duckdb.DuckDBPyConnection) -> tuple[str | None, int]:
    """The id the lake names itself by in its streams (None until its first publish) and its
    journeys watermark: what the journey topic should hold up to (streams/journey_lake.py)."""
    return read_lake_id(conn), journeys_watermark(conn)


def dead_letters_by_day(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> pd.DataFrame:
    """Dead letters per UTC day and reason in the range."""
    return dataframe(
        conn,
        "SELECT CAST(ingested_at AS DATE) AS day, reason, count(*) AS dead_letters "
        "FROM dead_letter_events WHERE ingested_at >= $start AND ingested_at < $end "
        "GROUP BY ALL ORDER BY day, reason",
        instant_params(day_range),
    )


def dead_letter_sample(
    conn: duckdb.DuckDBPyConnection, day_range: DayRange, limit: int = 20
) -> pd.DataFrame:
    """The newest dead letters of the range, their raw value cut to SAMPLE_BYTES and shown as
    text (invalid UTF-8 as escapes), never interpreted."""
    rows = dataframe(
        conn,
        """
        SELECT ingested_at, topic, kafka_partition, kafka_offset, reason, detail, raw_size,
            raw_value[1:$bytes] AS raw_head
        FROM dead_letter_events WHERE ingested_at >= $start AND ingested_at < $end
        ORDER BY ingested_at DESC, topic, kafka_partition, kafka_offset DESC LIMIT $limit
        """,
        {**instant_params(day_range), "bytes": SAMPLE_BYTES, "limit": limit},
    )
    rows["raw_value"] = [
        _raw_text(head, int(size))
        for head, size in zip(rows["raw_head"], rows["raw_size"], strict=True)
    ]
    return rows.drop(columns=["raw_head"])


def _raw_text(head: bytes | None, size: int) -> str:
    if head is None:
        return "(no value)"
    text = bytes(head).decode("utf-8", errors="backslashreplace")
    return text + (f" … ({size:,} bytes)" if size > len(head) else "")


def missing_funnel_days(conn: duckdb.DuckDBPyConnection, day_range: DayRange) -> pd.DataFrame:
    """Days from the first sign-up to the newest computed day with no funnel_daily row."""
    return dataframe(
        conn,
        """
        WITH bounds AS (
            SELECT greatest($first, (SELECT min(signup_day) FROM user_signups)) AS first,
                least($last, (SELECT max(day) FROM funnel_daily)) AS last
        ), days AS (
            SELECT CAST(d AS DATE) AS day
            FROM bounds, generate_series(bounds.first, bounds.last, INTERVAL 1 DAY) AS t(d)
            WHERE bounds.first IS NOT NULL AND bounds.last IS NOT NULL
        )
        SELECT day FROM days WHERE day NOT IN (SELECT day FROM funnel_daily) ORDER BY day
        LIMIT 1000
        """,
        day_params(day_range),
        dates=("day",),
    )


def funnel_days_behind_signups(
    conn: duckdb.DuckDBPyConnection, day_range: DayRange
) -> pd.DataFrame:
    """Computed days whose users (all four stages) differ from the sign-ups known now: late
    sign-ups arrived after the day was computed."""
    return dataframe(
        conn,
        """
        WITH per_day AS (
            SELECT signup_day AS day, count(*) AS n FROM user_signups GROUP BY signup_day
        ), known AS (
            SELECT f.day, f.signed_up + f.activated + f.active + f.inactive AS counted,
                (SELECT coalesce(sum(n), 0) FROM per_day WHERE per_day.day <= f.day) AS known
            FROM funnel_daily AS f WHERE f.day BETWEEN $first AND $last
        )
        SELECT day, counted, CAST(known AS BIGINT) AS signed_up_now
        FROM known WHERE counted <> known ORDER BY day LIMIT 1000
        """,
        day_params(day_range),
        dates=("day",),
    )
