"""What the health page reads outside the lake: Kafka's end offsets, the journey stream's
position, and the Dagster instance.

Both are optional: Kafka not answering within a second or two, or no DAGSTER_HOME, makes the
page say so instead of failing. Nothing here writes anywhere.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from analytics_pipeline.clients.kafka import ConnectionConfig
from analytics_pipeline.settings import Settings

KAFKA_TIMEOUT_MS = 2_000
RECENT_RUNS = 200  # the latest run of each job is looked for among this many newest runs
FUNNEL_ASSETS = ("funnel_daily", "users_by_activation_stage")


def kafka_end_offsets(settings: Settings) -> dict[tuple[str, int], int]:
    """{(topic, partition): end offset} of both topics (a topic not created yet: none).

    kafka-python directly, not the Dagster resource: importing Dagster costs seconds."""
    from kafka import KafkaConsumer, TopicPartition

    config = ConnectionConfig.from_settings(settings).kafka_python(
        request_timeout_ms=KAFKA_TIMEOUT_MS,
        bootstrap_timeout_ms=KAFKA_TIMEOUT_MS,
        enable_auto_commit=False,
    )
    consumer = KafkaConsumer(**config)
    try:
        ends: dict[tuple[str, int], int] = {}
        for topic in settings.topics:
            partitions = consumer.partitions_for_topic(topic) or set()
            wanted = [TopicPartition(topic, p) for p in sorted(partitions)]
            for part, offset in (consumer.end_offsets(wanted) if wanted else {}).items():
                ends[(part.topic, part.partition)] = int(offset)
        return ends
    finally:
        consumer.close()


@dataclass(frozen=True)
class StreamLag:
    """How far the journey topic is behind the lake, in DuckLake snapshots (the journeys
    watermark is one: journeys/derive.py)."""

    topic: str
    position: int  # the raw snapshot the topic holds everything up to (0: nothing yet)
    lake_watermark: int

    @property
    def lag(self) -> int:
        return max(self.lake_watermark - self.position, 0)


def journey_stream_lag(settings: Settings, lake_id: str | None, lake_watermark: int) -> StreamLag:
    """Read the journey topic's position back from its last committed records, as a
    publisher does (streams/publisher.py); raises StreamUnavailableError saying why not."""
    from kafka import KafkaConsumer

    from analytics_pipeline.streams.publisher import read_position, topic_partitions

    config = ConnectionConfig.from_settings(settings).kafka_python(
        request_timeout_ms=KAFKA_TIMEOUT_MS, bootstrap_timeout_ms=KAFKA_TIMEOUT_MS
    )

    def make_consumer(**overrides: Any) -> Any:
        return KafkaConsumer(**{**config, **overrides})

    topic = settings.journey_topic
    partitions = topic_partitions(make_consumer, topic)
    # No lake id yet: nothing was published from this lake, so any record there is another's.
    position, _ = read_position(make_consumer, topic, partitions, lake_id=lake_id or "none")
    return StreamLag(topic=topic, position=position or 0, lake_watermark=lake_watermark)


def warm_up() -> None:
    """Import what the health page needs (seconds for Dagster), so its first view is fast."""
    import kafka  # noqa: F401

    home = os.environ.get("DAGSTER_HOME")
    if home:
        dagster_view()


def ingest_lag(ledger: pd.DataFrame, ends: dict[tuple[str, int], int]) -> pd.DataFrame:
    """Per partition: Kafka's end offset, the committed next offset, and the difference."""
    committed = {
        (row.topic, int(row.kafka_partition)): (int(row.next_offset), row.updated_at)
        for row in ledger.itertuples()
    }
    rows = []
    for key in sorted(set(ends) | set(committed)):
        next_offset, updated_at = committed.get(key, (0, None))
        end = ends.get(key)
        rows.append(
            {
                "topic": key[0],
                "kafka_partition": key[1],
                "end_offset": end,
                "next_offset": next_offset,
                "lag": None if end is None else max(end - next_offset, 0),
                "updated_at": updated_at,
            }
        )
    return pd.DataFrame(
        rows,
        columns=["topic", "kafka_partition", "end_offset", "next_offset", "lag", "updated_at"],
    )


@dataclass(frozen=True)
class DagsterView:
    """The latest run of each job, and the stale funnel partitions the staleness sensor last
    reported (None: it reported nothing yet)."""

    runs: pd.DataFrame
    stale_partitions: list[str] | None


_instance: Any = None
_instance_lock = threading.Lock()


def _dagster_instance(home: str) -> Any:
    """One instance per process (opening one costs about a second): its storage is read
    afresh by every call."""
    global _instance
    with _instance_lock:
        if _instance is None:
            import dagster as dg

            _instance = dg.DagsterInstance.from_config(home)
        return _instance


def dagster_view() -> DagsterView | None:
    """Read the instance DAGSTER_HOME points at; None when it is not set."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return None
    instance = _dagster_instance(home)
    return DagsterView(runs=_latest_runs(instance), stale_partitions=_stale(instance))


def _latest_runs(instance: Any) -> pd.DataFrame:
    seen: dict[str, dict[str, Any]] = {}
    for record in instance.get_run_records(limit=RECENT_RUNS):
        run = record.dagster_run
        if run.job_name in seen:
            continue
        start, end = record.start_time, record.end_time
        seen[run.job_name] = {
            "job": run.job_name,
            "status": run.status.value,
            "started": _ts(start),
            "finished": _ts(end),
            "duration_s": round(end - start, 1) if start and end else None,
            "partition": run.tags.get("dagster/partition"),
            "run_id": run.run_id[:8],
        }
    columns = ["job", "status", "started", "finished", "duration_s", "partition", "run_id"]
    return pd.DataFrame(sorted(seen.values(), key=lambda r: r["job"]), columns=columns)


def _ts(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def _stale(instance: Any) -> list[str] | None:
    import dagster as dg

    newest: tuple[int, list[str]] | None = None
    for name in FUNNEL_ASSETS:
        records = instance.fetch_observations(dg.AssetKey(name), limit=50).records
        for record in records:
            observation = record.asset_observation
            value = observation.metadata.get("stale_partitions") if observation else None
            if value is not None:
                if newest is None or record.storage_id > newest[0]:
                    newest = (record.storage_id, [str(p) for p in value.value])
                break
    return None if newest is None else newest[1]
