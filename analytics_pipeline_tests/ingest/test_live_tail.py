"""The live tail through the real path: an in-process ingest run on real Kafka, a real lake and
the Slack stub keeps taking what lands after its planned range, stores it once, posts its alert
from the same run, records the range it took, and ends once the topics go quiet."""

from __future__ import annotations

import threading
import time

import dagster as dg

from analytics_pipeline.defs.ingest.live import LIVE_UNTIL_TAG
from analytics_pipeline_tests.alerts.test_alerts_end_to_end import (
    ingest_definitions,
    signup_event,
)
from analytics_pipeline_tests.ingest.test_ingest import rows


def test_a_sign_up_landing_during_the_live_tail_is_stored_once_and_posted_by_the_same_run(
    topics, produce, kafka_bootstrap, warehouse, lake, slack_resource, slack_stub, dagster_instance
):
    clickstream, backend = topics
    produce(backend, [signup_event("user-planned")], partition=0)
    defs = ingest_definitions(kafka_bootstrap, clickstream, backend, warehouse, slack_resource)
    landed: dict[str, float] = {}

    def produce_when_live() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = dagster_instance.get_runs(dg.RunsFilter(job_name="ingest_backend"), limit=5)
            if any(LIVE_UNTIL_TAG in run.tags for run in runs if not run.is_finished):
                landed["at"] = time.monotonic()
                produce(backend, [signup_event("user-live")], partition=1)
                # Once it is posted, a second one on the same partition: the tail's next
                # micro-batch reads a partition its last one finished with.
                while time.monotonic() < deadline:
                    if any("`user-live`" in m["text"] for m in slack_stub.messages()):
                        produce(backend, [signup_event("user-live-2")], partition=1)
                        landed["second"] = time.monotonic()
                        return
                    time.sleep(0.1)
                return
            time.sleep(0.1)

    producer = threading.Thread(target=produce_when_live)
    producer.start()
    result = defs.resolve_job_def("ingest_backend").execute_in_process(
        instance=dagster_instance,
        run_config={
            "ops": {
                "raw_backend_events": {
                    "config": {"topic": backend, "ranges": [{"partition": 0, "start": 0, "end": 1}]}
                },
                "alerts": {"config": {"live_seconds": 60, "live_idle_seconds": 4}},
            }
        },
    )
    producer.join()
    assert "second" in landed, f"the run never reached its live tail or posted: {landed}"

    texts = [m["text"] for m in slack_stub.messages("#portal-alerts")]
    assert sum("`user-planned`" in t for t in texts) == 1
    assert sum("`user-live`" in t for t in texts) == 1, texts
    assert sum("`user-live-2`" in t for t in texts) == 1, texts
    stored = rows(lake, "SELECT user_id, count(*) FROM raw_backend_events GROUP BY 1 ORDER BY 1")
    assert stored == [("user-live", 1), ("user-live-2", 1), ("user-planned", 1)]
    ledger = "SELECT kafka_partition, next_offset FROM ingest_offsets WHERE topic = ? ORDER BY 1"
    assert rows(lake, ledger, [backend]) == [(0, 1), (1, 2)]

    [materialization] = result.asset_materializations_for_node("alerts")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert (metadata["live_messages_taken"], metadata["live_micro_batches"]) == (2, 2)
    assert metadata["live_offset_ranges"] == {backend: {"1": [0, 2]}}
    assert metadata["live_ended_by"] == "idle"
    assert metadata["live_seconds"] < 30, "a quiet topic ends the tail after its idle time"
    # The clock rules were evaluated after the tail: the sensor knows all three sign-ups are
    # watched by onboarding_stalled, not only the one planned before the tail.
    assert metadata["signups_watched"] == 3
    assert metadata["next_clock_check_at"] > time.time() + 25 * 60
