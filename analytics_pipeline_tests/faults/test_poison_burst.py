"""A burst of near-1 MiB messages is stored, in batches bounded by bytes, within a stated
memory bound of the run worker (its peak RSS, sampled with psutil while the run works)."""

from __future__ import annotations

import dagster as dg
import pytest

from analytics_pipeline.settings import Settings
from analytics_pipeline_tests.faults.conftest import page_view, peak_rss
from analytics_pipeline_tests.fixtures.stack import wait_until

MESSAGES = 80
VALUE_BYTES = 900_000  # near the 1 MiB limit of SPEC §4 and of the broker
# The stated bound. Measured: 1992 MiB peak RSS of the run worker (Dagster, DuckDB, Arrow and
# kafka-python loaded) for batches of at most 64 MiB of values and 4 MiB parts; without the
# byte bounds the whole burst was one batch and DuckDB ran out of memory validating it. The
# batch's values are a small share of that peak: see RELIABILITY.md.
RSS_BOUND = 2560 * 1024 * 1024


@pytest.mark.slow
@pytest.mark.serial  # its memory bound holds alone; beside 3 workers it peaked at 2720 MiB
@pytest.mark.timeout(600)
def test_a_burst_of_near_1_mib_messages_is_stored_within_the_memory_bound(pipeline, produce):
    p = pipeline()
    pad = "x" * (VALUE_BYTES - 200)
    produce(p.clickstream, [page_view(f"big{i}", pad=pad) for i in range(MESSAGES)], partition=0)

    def worker():
        assert p.daemon.alive(), p.daemon.log_tail()
        for run in p.in_flight():
            pid = p.worker_pid(run.run_id)
            if pid:
                return pid
        return None

    pid = wait_until(worker, timeout=120, interval=0.1, message="no ingest run started")
    peak = peak_rss(pid, until=lambda: (p.stored().ledger or 0) >= MESSAGES)
    stored = p.wait_ledger(MESSAGES, timeout=300)
    p.wait_settled(timeout=240)  # journeys may fail on such payloads, and be retried

    assert (stored.rows, stored.distinct_event_ids, stored.dead_letters) == (MESSAGES, MESSAGES, 0)
    one_batch_bytes = Settings.ingest_max_batch_bytes
    assert one_batch_bytes < MESSAGES * VALUE_BYTES, "the burst must exceed one batch"
    transactions = 0
    for run in p.runs():
        for record in p.instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ):
            materialization = record.dagster_event.event_specific_data.materialization
            if materialization.asset_key == dg.AssetKey("raw_clickstream_events"):
                transactions += materialization.metadata["transactions"].value
    assert transactions >= 2, "the byte bound splits the burst into several transactions"
    print(
        f"FAULTS poison burst: {MESSAGES} x {VALUE_BYTES} B stored in {transactions} "
        f"transactions, peak RSS {peak >> 20} MiB"
    )
    assert 0 < peak <= RSS_BOUND, f"peak RSS {peak >> 20} MiB over {RSS_BOUND >> 20} MiB"
