"""The raw tables' key tables: de-duplication without scanning every stored event_id.

A real lake; the batches go through `store_batch`, i.e. the writer the ingest runs use.
"""

from __future__ import annotations

import json

import pytest

from analytics_pipeline.ingest.raw_checks import CheckOutcome
from analytics_pipeline.ingest.writer import RawRecord
from analytics_pipeline.warehouse import connect
from analytics_pipeline.warehouse.connection import forget_schema
from analytics_pipeline.warehouse.raw_tables import event_key
from analytics_pipeline_tests.ingest.batches import store_batch
from analytics_pipeline_tests.ingest.test_ingest import page_view
from analytics_pipeline_tests.ingest.test_raw_checks import check_outcomes

TOPIC = "portal-clickstream"


@pytest.fixture
def path(lake):
    return lake


def reopen(lake):
    """Connect as a new process would: it checks the schema and the keys again."""
    forget_schema(lake)
    return connect(lake)


def store(conn, first_offset: int, *event_ids: str):
    records = [
        RawRecord(0, first_offset + n, json.dumps(page_view(e)).encode())
        for n, e in enumerate(event_ids)
    ]
    return store_batch(conn, kind="clickstream", topic=TOPIC, records=records)


def stored_ids(conn) -> list[str]:
    rows = conn.execute("SELECT event_id FROM raw_clickstream_events ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def key_count(conn) -> int:
    return conn.execute("SELECT count(*) FROM raw_clickstream_events_keys").fetchall()[0][0]


def test_every_stored_row_gets_one_key_in_the_same_transaction(path):
    conn = connect(path)
    first = store(conn, 0, "e1", "e2", "e2")
    second = store(conn, 3, "e2", "e3")

    assert (first.stored, first.duplicates, second.stored, second.duplicates) == (2, 1, 1, 1)
    assert stored_ids(conn) == ["e1", "e2", "e3"]
    assert key_count(conn) == 3


def test_an_equal_key_alone_is_not_a_duplicate(path):
    """A key without the same event_id stored (a collision, or a row deleted) stores the row."""
    conn = connect(path)
    store(conn, 0, "e1")
    conn.execute(f"INSERT INTO raw_clickstream_events_keys SELECT {event_key(repr('e9'))}, 1")

    result = store(conn, 1, "e9", "e1")

    assert (result.stored, result.duplicates) == (1, 1)
    assert stored_ids(conn) == ["e1", "e9"]


def test_a_warehouse_without_keys_gets_them_when_opened_and_still_skips_repeats(path):
    """As for a warehouse from before the key tables, or rows added by hand."""
    conn = connect(path)
    store(conn, 0, "e1", "e2")
    conn.execute("DELETE FROM raw_clickstream_events_keys")
    conn.close()

    conn = reopen(path)
    assert key_count(conn) == 2
    result = store(conn, 2, "e1", "e3")

    assert (result.stored, result.duplicates) == (1, 1)
    assert stored_ids(conn) == ["e1", "e2", "e3"]


def duplicate_check(conn, batch_id: int) -> CheckOutcome:
    # On this connection: opening the warehouse again would rebuild the keys.
    return check_outcomes(conn, TOPIC, [batch_id])["no_duplicate_event_ids"]


def test_the_duplicate_check_counts_event_ids_when_the_keys_miss_rows(path):
    """A row copied in by hand has no key: the check says so and still finds the duplicate."""
    conn = connect(path)
    result = store(conn, 0, "e1", "e2")
    conn.execute(
        "INSERT INTO raw_clickstream_events SELECT * FROM raw_clickstream_events "
        "WHERE event_id = 'e2'"
    )

    check = duplicate_check(conn, result.batch_id)

    assert not check.passed
    assert check.metadata == {"event_ids_checked": 2, "duplicates": 1, "rows": 3, "keys": 2}
    assert "raw_clickstream_events_keys holds 2 keys for the 3 rows" in check.description


def test_after_an_event_id_is_edited_by_hand_dropping_the_keys_restores_de_duplication(path):
    """The documented repair for edits that keep the row count (see raw_tables)."""
    conn = connect(path)
    store(conn, 0, "e1", "e2")
    conn.execute("UPDATE raw_clickstream_events SET event_id = 'e3' WHERE event_id = 'e2'")
    conn.execute("DROP TABLE raw_clickstream_events_keys")
    conn.close()

    conn = reopen(path)
    result = store(conn, 2, "e3", "e4")

    assert (result.stored, result.duplicates) == (1, 1)
    assert stored_ids(conn) == ["e1", "e3", "e4"]
    assert duplicate_check(conn, result.batch_id).passed
