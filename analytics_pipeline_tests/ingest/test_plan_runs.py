"""The sensor's range planning: bounded, contiguous, deterministic."""

from analytics_pipeline.ingest.ranges import (
    OffsetRange,
    effective_ranges,
    plan_topic_runs,
    run_key,
)


def plan_runs(cursor, end_offsets, max_batch):
    """The runs planned for one topic."""
    return [run["t"] for run in plan_topic_runs({"t": cursor}, {"t": end_offsets}, max_batch)]


def test_new_partitions_start_at_zero_and_caught_up_partitions_are_skipped():
    runs = plan_runs({0: 10, 1: 4}, {0: 10, 1: 6, 2: 3}, max_batch=100)
    assert runs == [[OffsetRange(1, 4, 6), OffsetRange(2, 0, 3)]]


def test_backlog_is_split_at_the_batch_bound_without_gaps():
    runs = plan_runs({}, {0: 7, 1: 5}, max_batch=4)
    assert [sum(r.size for r in run) for run in runs] == [4, 4, 4]
    assert runs == [
        [OffsetRange(0, 0, 4)],
        [OffsetRange(0, 4, 7), OffsetRange(1, 0, 1)],
        [OffsetRange(1, 1, 5)],
    ]


def test_nothing_new_plans_no_run():
    assert plan_runs({0: 3}, {0: 3}, max_batch=10) == []
    assert plan_runs({}, {}, max_batch=10) == []


def test_run_key_is_deterministic_and_order_independent():
    a = run_key("t", [OffsetRange(1, 0, 5), OffsetRange(0, 2, 3)])
    b = run_key("t", [OffsetRange(0, 2, 3), OffsetRange(1, 0, 5)])
    assert a == b == "t|0:2-3,1:0-5"


def test_run_starts_from_the_ledger_skipping_stored_and_filling_gaps():
    requested = [OffsetRange(0, 10, 20), OffsetRange(1, 10, 20), OffsetRange(2, 5, 8)]
    ledger = {0: 15, 1: 4, 2: 8}
    assert effective_ranges(requested, ledger) == [OffsetRange(0, 15, 20), OffsetRange(1, 4, 20)]
