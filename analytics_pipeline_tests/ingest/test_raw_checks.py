"""The raw tables' asset checks, as an ingest run reports them and on broken data."""

from __future__ import annotations

import dagster as dg

from analytics_pipeline.ingest.raw_checks import CheckOutcome, run_checks
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.warehouse import connect
from analytics_pipeline_tests.ingest.conftest import RAW_ASSETS
from analytics_pipeline_tests.ingest.test_ingest import page_view


def materialize(kind, make_kafka, warehouse, dagster_instance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [RAW_ASSETS[kind]],
        instance=dagster_instance,
        resources={"kafka": make_kafka(), "warehouse": warehouse, "analytics": AnalyticsResource()},
    )


def ingest_two_events(partition: int, topics, produce, make_kafka, warehouse, dagster_instance):
    clickstream, _ = topics
    produce(clickstream, [page_view("e1"), page_view("e2")], partition=partition)
    materialize("clickstream", make_kafka, warehouse, dagster_instance)


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def check_outcomes(conn, clickstream: str, batch_ids) -> dict[str, CheckOutcome]:
    """The raw checks of the clickstream table by name, on an open connection."""
    results = run_checks(
        conn, kind="clickstream", topic=clickstream, warn_share=0.05, batch_ids=batch_ids
    )
    return {r.name: r for r in results}


def outcomes(lake, clickstream: str, batch_ids) -> dict[str, CheckOutcome]:
    conn = connect(lake)
    try:
        return check_outcomes(conn, clickstream, batch_ids)
    finally:
        conn.close()


def test_a_clean_ingest_passes_every_check_with_what_it_looked_at(
    topics, produce, make_kafka, warehouse, dagster_instance
):
    clickstream, _ = topics
    produce(clickstream, [page_view(f"e{i}") for i in range(5)], partition=0)

    checks = evaluations(materialize("clickstream", make_kafka, warehouse, dagster_instance))

    assert {name: c.passed for name, c in checks.items()} == {
        "no_duplicate_event_ids": True,
        "ledger_covers_stored_offsets": True,
        "dead_letter_share": True,
        "nothing_lost_to_retention": True,
    }
    assert checks["no_duplicate_event_ids"].metadata["event_ids_checked"].value == 5
    assert checks["dead_letter_share"].metadata["dead_letters_24h"].value == 0


def test_a_row_duplicated_outside_the_pipeline_fails_the_duplicate_check(
    topics, produce, make_kafka, warehouse, dagster_instance, lake
):
    ingest_two_events(0, topics, produce, make_kafka, warehouse, dagster_instance)
    conn = connect(lake)
    [(batch_id,)] = conn.execute(
        "SELECT DISTINCT ingest_batch_id FROM raw_clickstream_events"
    ).fetchall()
    conn.execute(  # e.g. restored from a backup by hand
        "INSERT INTO raw_clickstream_events SELECT * REPLACE (99 AS kafka_offset, "
        "0 AS ingest_batch_id) FROM raw_clickstream_events WHERE event_id = 'e2'"
    )
    conn.close()

    check = outcomes(lake, topics[0], [batch_id])["no_duplicate_event_ids"]

    assert not check.passed and check.severity == "ERROR"
    assert check.metadata == {"event_ids_checked": 2, "duplicates": 1, "rows": 3, "keys": 2}


def test_a_ledger_behind_the_stored_offsets_fails_and_names_the_partition(
    topics, produce, make_kafka, warehouse, dagster_instance, lake
):
    ingest_two_events(1, topics, produce, make_kafka, warehouse, dagster_instance)
    conn = connect(lake)
    conn.execute("UPDATE ingest_offset_log SET next_offset = 1")  # the log behind the view
    conn.close()

    check = outcomes(lake, topics[0], [])["ledger_covers_stored_offsets"]

    assert not check.passed
    assert check.metadata["inconsistent_partitions"] == [
        {"partition": 1, "max_stored_offset": 1, "ledger_next_offset": 1}
    ]


def test_many_dead_letters_warn_without_failing_the_run(
    topics, produce, make_kafka, warehouse, dagster_instance
):
    clickstream, _ = topics
    produce(clickstream, [page_view("e1"), b"not json", b"{}"], partition=0)

    result = materialize("clickstream", make_kafka, warehouse, dagster_instance)

    check = evaluations(result)["dead_letter_share"]
    assert result.success and not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["dead_letters_24h"].value == 2
    assert "66.67%" in check.description


def test_messages_deleted_by_retention_before_ingest_fail_an_error_check(
    topics, produce, make_kafka, warehouse, dagster_instance, kafka_admin
):
    from kafka import TopicPartition

    clickstream, _ = topics
    produce(clickstream, [page_view(f"e{i}") for i in range(5)], partition=1)
    # What retention does to a partition the pipeline fell behind on: the oldest offsets go.
    kafka_admin.delete_records({TopicPartition(clickstream, 1): 3})

    result = materialize("clickstream", make_kafka, warehouse, dagster_instance)

    check = evaluations(result)["nothing_lost_to_retention"]
    assert result.success and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["lost_to_retention"].value == 3
    assert check.metadata["lost_by_partition"].value == {"1": 3}
    assert "3 messages were deleted by Kafka retention" in check.description
    [materialization] = [
        m
        for m in result.asset_materializations_for_node("raw_clickstream_events")
        if m.asset_key == dg.AssetKey("raw_clickstream_events")
    ]
    assert materialization.metadata["rows_added"].value == 2
