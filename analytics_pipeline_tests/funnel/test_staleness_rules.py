"""Which funnel partitions a journeys change makes stale (pure bookkeeping of the sensor)."""

from __future__ import annotations

from analytics_pipeline.defs.funnel.staleness import (
    StalenessCursor,
    add_touch,
    contiguous_ranges,
    stale_partitions,
)


def test_a_change_makes_stale_only_partitions_on_or_after_its_day_materialised_before_it():
    touches = add_touch([], "2026-03-03", 50)
    materialised = {"2026-03-02": 10, "2026-03-03": 10, "2026-03-04": 60, "2026-03-05": 20}
    assert stale_partitions(touches, materialised) == ["2026-03-03", "2026-03-05"]


def test_a_newer_earlier_change_replaces_the_ones_it_covers():
    touches = add_touch([], "2026-03-05", 10)
    touches = add_touch(touches, "2026-03-08", 20)
    touches = add_touch(touches, "2026-03-04", 30)
    assert touches == [("2026-03-04", 30)]
    # an older change from an earlier day still matters for days before a newer one
    touches = add_touch([("2026-03-09", 40)], "2026-03-01", 35)
    assert touches == [("2026-03-01", 35), ("2026-03-09", 40)]
    assert stale_partitions(touches, {"2026-03-02": 36, "2026-03-10": 36}) == ["2026-03-10"]


def test_contiguous_days_form_ranges():
    days = ["2026-03-03", "2026-03-01", "2026-03-02", "2026-03-07", "2026-02-28"]
    assert contiguous_ranges(days) == [("2026-02-28", "2026-03-03"), ("2026-03-07", "2026-03-07")]
    assert contiguous_ranges([]) == []


def test_cursor_round_trips_through_text():
    cursor = StalenessCursor(after_storage_id=7, touches=[("2026-03-01", 5)], reported=["x"])
    assert StalenessCursor.parse(cursor.dump()) == cursor
    assert StalenessCursor.parse(None) == StalenessCursor()
