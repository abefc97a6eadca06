"""Exactly once across a lake commit and a Kafka commit that are not atomic together: a run
worker of the stream is SIGKILLed after the journeys' lake commit, with records sent in an
open Kafka transaction, and right after the Kafka commit. A read_committed consumer then sees
every action once, and nothing the lake did not commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from analytics_pipeline_tests.streams.stream_reader import (
    action_ids,
    apply,
    lake_journey,
    read_committed,
)
from analytics_pipeline_tests.streams.test_journey_stream import week


def worker(kill_at: str, env: dict[str, str]) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "analytics_pipeline_tests.streams.publish_worker", kill_at],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    expected = 0 if kill_at == "none" else -signal.SIGKILL
    assert done.returncode == expected, done.stderr[-3000:]
    return done.returncode


def test_a_worker_killed_at_either_commit_loses_nothing_and_repeats_nothing(
    conn, raw, lake_env, journey_topic, kafka_bootstrap
):
    env = {
        **lake_env,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ANALYTICS_JOURNEY_TOPIC": journey_topic,
    }
    batches = week()
    raw.add(batches[0])
    worker("lake_commit", env)  # journeys committed, the stream never heard of them
    assert read_committed(kafka_bootstrap, journey_topic) == []

    raw.add(batches[1])
    worker("sent", env)  # batches 1-2 sent, the transaction left open: fenced, aborted
    assert read_committed(kafka_bootstrap, journey_topic) == []

    raw.add(batches[2])
    worker("committed", env)  # batches 1-3 committed to Kafka; the worker dies right after
    published = read_committed(kafka_bootstrap, journey_topic)
    assert published

    raw.add(batches[3])
    worker("none", env)
    records = read_committed(kafka_bootstrap, journey_topic)
    assert {(r.partition, r.offset) for r in published} <= {
        (r.partition, r.offset) for r in records
    }
    ids = action_ids(records)
    assert len(ids) == len(set(ids)), "an action was published twice"
    assert apply(records) == lake_journey(conn)
