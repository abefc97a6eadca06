"""Incremental journeys runs give the same tables as one full rebuild (simulated traffic).

The simulator's events are shuffled and cut into random ingest batches, so browser events
arrive before their identify, links arrive late, and meaningful actions land on past days.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from analytics_pipeline.funnel.stages import compute_funnel
from analytics_pipeline.ingest.writer import RawRecord
from analytics_pipeline.journeys import derive
from analytics_pipeline.journeys.derive import rebuild_journeys, update_journeys
from analytics_pipeline.simulate.traffic import generate_traffic
from analytics_pipeline.warehouse import connect
from analytics_pipeline.warehouse.maintenance import lake_files, maintain
from analytics_pipeline.warehouse.snapshots import last_committed_snapshot
from analytics_pipeline_tests.ingest.batches import store_batch
from analytics_pipeline_tests.journeys.conftest import TOPICS

START = date(2026, 3, 1)
TOPIC_OF = {"clickstream": TOPICS["clickstream_topic"], "backend": TOPICS["backend_topic"]}
TABLES = {
    "journey_events": "SELECT source_topic, event_id, user_id, anonymous_id, ts, action,"
    " details, user_via_identity FROM journey_events ORDER BY ALL",
    "user_identities": "SELECT * FROM user_identities ORDER BY ALL",
    "user_journeys": "SELECT * FROM user_journeys ORDER BY ALL",
    "user_meaningful_days": "SELECT * FROM user_meaningful_days ORDER BY ALL",
    "funnel_daily": "SELECT * FROM funnel_daily ORDER BY ALL",
    "users_by_activation_stage": "SELECT * FROM users_by_activation_stage ORDER BY ALL",
}


class Feeder:
    """Writes simulator events through the real ingest writer, offsets in arrival order."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self.next_offset = {"clickstream": 0, "backend": 0}

    def feed(self, events, kinds=("clickstream", "backend")) -> dict[str, list[int]]:
        """Store `events` of `kinds`, one batch per kind; returns the batch ids by kind."""
        batch_ids: dict[str, list[int]] = {}
        for kind in kinds:
            values = [e.value for e in events if e.kind == kind]
            if not values:
                continue
            first = self.next_offset[kind]
            records = [
                RawRecord(0, first + n, json.dumps(v).encode()) for n, v in enumerate(values)
            ]
            self.next_offset[kind] += len(records)
            result = store_batch(self.conn, kind=kind, topic=TOPIC_OF[kind], records=records)
            assert result.stored == len(records), result
            assert result.batch_id is not None
            batch_ids[kind] = [result.batch_id]
        return batch_ids


def conflicting_links(events, rng: random.Random, count: int):
    """Identify events that link some browsers to another user, earlier or later than theirs."""
    identifies = [e for e in events if e.value["type"] == "identify"]
    users = sorted({e.value["user_id"] for e in identifies})
    extra = []
    for n, event in enumerate(rng.sample(identifies, min(count, len(identifies)))):
        moment = event.ts + timedelta(hours=rng.choice([-30, -2, 3, 40]))
        value = {
            **event.value,
            "event_id": f"conflict-{n}",
            "user_id": rng.choice(users),
            "ts": moment.isoformat().replace("+00:00", "Z"),
        }
        extra.append(replace(event, value=value, ts=moment))
    return extra


def snapshot(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    compute_funnel(conn, START, date(2026, 3, 28), inactive_after_days=15)
    return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}


@pytest.mark.parametrize(("seed", "change_log"), [(1, True), (2, True), (3, False), (4, True)])
def test_incremental_batches_equal_one_full_rebuild(new_lake, monkeypatch, seed, change_log):
    """Each update finds what is new in the catalog's change log (warehouse/snapshots.py),
    and seed 4 stores one table at a time, as a live micro-batch with one topic does, so the
    update reads that table only; `change_log=False` takes the path of a lake whose log
    cannot answer (its oldest snapshots expired): both raw tables scanned for their newest
    snapshot. Either way the watermark is the snapshot of the last store it saw."""
    if not change_log:
        monkeypatch.setattr(derive, "inserted_since", lambda *_args: None)
    rng = random.Random(seed)
    events = list(generate_traffic(80, 21, seed, start=START))
    events += conflicting_links(events, rng, count=12)
    shuffled = events[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), 9))

    incremental = connect(new_lake("incremental", migrated=True))
    feeder = Feeder(incremental)
    reattributed = rebuilt = 0
    one_table = seed == 4
    stores = [
        (slice(begin, end), kinds)
        for begin, end in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)
        for kinds in (
            (("clickstream",), ("backend",)) if one_table else (("clickstream", "backend"),)
        )
    ]
    one_table_updates = 0
    for part, kinds in stores:
        batch_ids = feeder.feed(shuffled[part], kinds)
        stored = last_committed_snapshot(incremental) if batch_ids else None
        if rng.random() < 0.8:  # journeys does not necessarily run after every ingest
            result = update_journeys(incremental, **TOPICS)
            if stored is not None:
                assert result.watermark == stored
            one_table_updates += one_table and result.raw_rows_read > 0
            reattributed, rebuilt = (
                reattributed + result.reattributed,
                rebuilt + result.users_rebuilt,
            )
    assert not one_table or one_table_updates > 5, "most updates should read one table"
    result = update_journeys(incremental, **TOPICS)
    reattributed, rebuilt = reattributed + result.reattributed, rebuilt + result.users_rebuilt
    assert reattributed > 0, "the batches should include links that arrive late"
    assert rebuilt > 0, "some late links should move events away from a user"
    got = snapshot(incremental)

    whole = connect(new_lake("whole", migrated=True))
    Feeder(whole).feed(events)
    update_journeys(whole, **TOPICS)
    expected = snapshot(whole)

    for name in TABLES:
        assert got[name] == expected[name], name
    assert len(got["user_journeys"]) > 40 and len(got["journey_events"]) > 1000

    # and the incremental database rebuilt from its own raw rows is unchanged too
    rebuild_journeys(incremental, **TOPICS)
    assert snapshot(incremental) == got


def test_journey_event_files_are_written_in_user_order(conn):
    """The journey explorer finds one user's actions by the files' min/max statistics: each
    data file of journey_events_by_user holds its rows ordered by user, then time."""
    Feeder(conn).feed(list(generate_traffic(60, 14, 5, start=START)))
    update_journeys(conn, **TOPICS)
    catalog = conn.execute("SELECT current_database()").fetchone()[0]
    files = [
        row[0]
        for row in conn.execute(
            "SELECT data_file FROM ducklake_list_files($catalog, 'journey_events_by_user')",
            {"catalog": catalog},
        ).fetchall()
    ]
    assert files
    for path in files:
        stored = conn.execute(
            "SELECT user_id, ts FROM read_parquet($path)", {"path": path}
        ).fetchall()
        assert len({user for user, _ in stored}) > 10
        assert stored == sorted(stored), path


def test_upkeep_leaves_no_delete_files_behind_the_journeys_updates(conn):
    """Every journeys batch rewrites the user_journeys rows it changes, which leaves a delete
    file on the table's big file; upkeep folds them back however few rows each one deletes,
    so queries never pay for a day of them."""
    events = sorted(generate_traffic(300, 14, 6, start=START), key=lambda e: e.ts)
    cut, users = len(events), set()
    while len(users) < 25:  # the last events, from 25 users
        cut -= 1
        users.add(events[cut].value.get("user_id"))
    feeder = Feeder(conn)
    feeder.feed(events[:cut])
    first = update_journeys(conn, **TOPICS)
    feeder.feed(events[cut:])
    second = update_journeys(conn, **TOPICS)
    # more rows than DuckLake inlines into the catalog, fewer than a tenth of the file
    assert 10 < second.users_touched - second.new_users < first.users_touched / 10, second
    expected = conn.execute(TABLES["user_journeys"]).fetchall()
    assert lake_files(conn).delete_files > 0

    result = maintain(conn, retention=timedelta(days=7), now=datetime.now(UTC))

    assert result.after.delete_files == 0
    assert conn.execute(TABLES["user_journeys"]).fetchall() == expected
