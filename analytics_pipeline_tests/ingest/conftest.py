"""Ingest test helpers: materialise a raw asset for given ranges on the real Dagster instance."""

from __future__ import annotations

import dagster as dg
import pytest

from analytics_pipeline.defs.ingest.assets import raw_backend_events, raw_clickstream_events
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource

RAW_ASSETS = {"clickstream": raw_clickstream_events, "backend": raw_backend_events}


@pytest.fixture
def topics(new_topics):
    """(clickstream topic, backend topic), two partitions each, unique to the test."""
    return new_topics(partitions=2)


@pytest.fixture
def make_kafka(topics, kafka_bootstrap):
    def make(
        max_batch: int = 50_000, bootstrap_servers: str | None = None, **fields: int
    ) -> KafkaResource:
        clickstream, backend = topics
        return KafkaResource(
            bootstrap_servers=bootstrap_servers or kafka_bootstrap,
            clickstream_topic=clickstream,
            backend_topic=backend,
            max_batch=max_batch,
            **{"sensor_wait_seconds": 0, **fields},  # one look per tick unless a test waits
        )

    return make


@pytest.fixture
def kafka(make_kafka) -> KafkaResource:
    return make_kafka()


@pytest.fixture
def ingest(make_kafka, warehouse, dagster_instance):
    """ingest(kind, ranges=None, max_batch=None) -> the run's materialisation metadata."""

    def run(
        kind: str,
        ranges: list[tuple[int, int, int]] | None = None,
        *,
        max_batch=None,
        raise_on_error: bool = True,
    ):
        resource = make_kafka() if max_batch is None else make_kafka(max_batch=max_batch)
        config = [{"partition": p, "start": s, "end": e} for p, s, e in ranges or []]
        result = dg.materialize(
            [RAW_ASSETS[kind]],
            instance=dagster_instance,
            resources={"kafka": resource, "warehouse": warehouse, "analytics": AnalyticsResource()},
            run_config={"ops": {f"raw_{kind}_events": {"config": {"ranges": config}}}},
            raise_on_error=raise_on_error,
        )
        if not result.success:
            return result
        [materialization] = [
            m
            for m in result.asset_materializations_for_node(f"raw_{kind}_events")
            if m.asset_key == dg.AssetKey(f"raw_{kind}_events")
        ]
        return {key: value.value for key, value in materialization.metadata.items()}

    return run
