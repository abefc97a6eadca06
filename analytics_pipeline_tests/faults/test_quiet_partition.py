"""A quiet partition after a failed run: the range the failed run had is stored without any new
traffic (issue 10), because the sensor compares the consumer group's committed offsets with
what it requested."""

from __future__ import annotations

import dagster as dg
import pytest

from analytics_pipeline.defs.ingest.sensors import WILL_RETRY_TAG
from analytics_pipeline_tests.faults.conftest import page_view
from analytics_pipeline_tests.fixtures.stack import wait_until

WRONG_PASSWORD = "not-the-catalog-password-4f1c"


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_a_range_whose_runs_failed_for_good_is_stored_without_new_traffic(pipeline, produce, lake):
    # The lake is unreachable for the first daemon's runs: every retry fails too.
    broken = pipeline(ANALYTICS_LAKE_PASSWORD=WRONG_PASSWORD)
    produce(broken.clickstream, [page_view("deploy-failed-last"), b"not json"], partition=0)

    def failed_for_good():
        assert broken.daemon.alive(), broken.daemon.log_tail()
        runs = broken.runs()
        done = runs and not broken.in_flight()
        # Dagster tags a failed run with its retry decision a moment after the failure: until
        # every run carries it, a retry may still come.
        return done and all(
            r.status == dg.DagsterRunStatus.FAILURE
            and WILL_RETRY_TAG in r.tags
            and not r.is_complete_and_waiting_to_retry
            for r in runs
        )

    wait_until(failed_for_good, timeout=200, interval=1, message="the runs did not fail")
    failures = "\n".join(broken.failure_messages())
    assert lake.catalog.split("dbname=")[1].split()[0] in failures  # names the database
    assert "127.0.0.1" in failures and WRONG_PASSWORD not in failures
    failed_runs = len(broken.runs())
    broken.daemon.stop()

    # Healthy again, and the partition stays quiet: nothing new is produced.
    healthy = pipeline()
    stored = healthy.wait_ledger(2, timeout=150)
    healthy.wait_settled(timeout=90)
    assert (stored.rows, stored.distinct_event_ids, stored.dead_letters) == (1, 1, 1)
    later = [r for r in healthy.runs() if r.status == dg.DagsterRunStatus.SUCCESS]
    assert later and all("~e" in r.tags["dagster/run_key"] for r in later)
    print(f"FAULTS quiet partition: {failed_runs} runs failed for good, range stored, 0 lost")
