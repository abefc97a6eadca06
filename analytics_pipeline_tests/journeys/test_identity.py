"""Identity stitching (SPEC §5): browser events belong to the user their anonymous_id links to."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from analytics_pipeline.journeys.derive import events_without_raw_event, update_journeys
from analytics_pipeline_tests.journeys.conftest import TOPICS
from analytics_pipeline_tests.journeys.raw_events import (
    api,
    at,
    code_run,
    identify,
    page_view,
    signup,
)


def owners(conn: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    rows = conn.execute("SELECT event_id, user_id FROM journey_events").fetchall()
    return dict(rows)


def journey(conn: duckdb.DuckDBPyConnection, user_id: str) -> dict[str, object] | None:
    cursor = conn.execute("SELECT * FROM user_journeys WHERE user_id = ?", [user_id])
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


def test_browser_events_before_and_after_identify_in_one_batch_belong_to_the_user(conn, raw):
    before = page_view("a1", at("2026-02-01", 9))
    after = page_view("a1", at("2026-02-01", 11))
    raw.add(
        before,
        identify("a1", "u1", at("2026-02-01", 10)),
        after,
        signup("u1", at("2026-02-01", 10)),
    )
    update_journeys(conn, **TOPICS)

    assert owners(conn)[before["event_id"]] == "u1"
    assert owners(conn)[after["event_id"]] == "u1"
    row = journey(conn, "u1")
    assert row is not None
    assert row["last_seen_at"].isoformat() == "2026-02-01T11:00:00+00:00"
    assert row["signup_inferred"] is False


def test_events_after_the_link_in_a_later_batch_use_the_stored_link(conn, raw):
    raw.add(identify("a1", "u1", at("2026-02-01")))
    update_journeys(conn, **TOPICS)
    later = page_view("a1", at("2026-02-03"))
    raw.add(later)
    result = update_journeys(conn, **TOPICS)

    assert owners(conn)[later["event_id"]] == "u1"
    assert result.reattributed == 0
    assert journey(conn, "u1")["signup_inferred"] is True


def test_a_link_arriving_in_a_later_batch_reattributes_earlier_browser_events(conn, raw):
    views = [page_view("a1", at("2026-02-01", h)) for h in (8, 9)]
    raw.add(views)
    first = update_journeys(conn, **TOPICS)
    assert first.anonymous_rows_added == 2
    assert owners(conn) == {v["event_id"]: None for v in views}
    assert journey(conn, "u1") is None

    raw.add(identify("a1", "u1", at("2026-02-05")))
    result = update_journeys(conn, **TOPICS)

    assert owners(conn) == {v["event_id"]: "u1" for v in views}
    assert (result.reattributed, result.identities_linked, result.users_touched) == (2, 1, 1)
    assert result.earliest_event_day == date(2026, 2, 1)
    assert result.earliest_funnel_day == date(2026, 2, 1)  # a new inferred sign-up that day
    row = journey(conn, "u1")
    assert row["signed_up_at"].isoformat() == "2026-02-01T08:00:00+00:00"
    assert row["signup_inferred"] is True and row["actions"] == 2


def test_any_clickstream_event_with_both_ids_links_the_anonymous_id(conn, raw):
    anonymous = page_view("a1", at("2026-02-01", 8))
    raw.add(anonymous, page_view("a1", at("2026-02-01", 9), user_id="u1"))
    update_journeys(conn, **TOPICS)
    assert owners(conn)[anonymous["event_id"]] == "u1"
    assert conn.execute("SELECT user_id FROM user_identities").fetchall() == [("u1",)]


def test_the_earliest_link_wins_whatever_order_links_arrive_in(conn, raw):
    view = page_view("a1", at("2026-02-01", 8))
    raw.add(view, identify("a1", "u1", at("2026-02-02")))
    update_journeys(conn, **TOPICS)
    raw.add(identify("a1", "u2", at("2026-02-03")))  # a later link: ignored
    update_journeys(conn, **TOPICS)
    assert owners(conn)[view["event_id"]] == "u1"

    raw.add(identify("a1", "u3", at("2026-02-01", 12)))  # an earlier link, arriving late
    result = update_journeys(conn, **TOPICS)

    assert owners(conn)[view["event_id"]] == "u3"
    assert result.reattributed == 1
    identity = conn.execute("SELECT user_id, linked_at FROM user_identities").fetchone()
    assert identity[0] == "u3" and identity[1].isoformat() == "2026-02-01T12:00:00+00:00"
    # u1 lost its only action: no journey left; u3 got it
    assert journey(conn, "u1") is None
    assert journey(conn, "u3")["signed_up_at"].isoformat() == "2026-02-01T08:00:00+00:00"


def test_events_of_no_known_user_stay_anonymous_and_outside_user_journeys(conn, raw):
    raw.add(
        page_view("stranger", at("2026-02-01")),
        api(None, "POST", "/auth/login", 401, at("2026-02-01")),
    )
    result = update_journeys(conn, **TOPICS)
    assert result.rows_added == 2 and result.anonymous_rows_added == 2
    assert conn.execute("SELECT count(*) FROM user_journeys").fetchone() == (0,)


def test_own_user_id_beats_the_link(conn, raw):
    own = page_view("shared-browser", at("2026-02-02"), user_id="u2")
    raw.add(identify("shared-browser", "u1", at("2026-02-01")), own)
    update_journeys(conn, **TOPICS)
    assert owners(conn)[own["event_id"]] == "u2"


def test_nothing_new_processes_nothing(conn, raw):
    raw.add(signup("u1", at("2026-02-01")))
    update_journeys(conn, **TOPICS)
    again = update_journeys(conn, **TOPICS)
    assert not again.processed_anything
    assert again.rows_added == 0 and again.earliest_funnel_day is None


def test_a_failing_batch_changes_nothing_and_is_retried_whole(conn, raw):
    raw.add(signup("u1", at("2026-02-01")))
    first = update_journeys(conn, **TOPICS)
    view = page_view("a9", at("2026-02-02"))
    raw.add(view, identify("a9", "u9", at("2026-02-02")), code_run("u1", at("2026-02-02")))
    # a table the step writes late in the batch is missing: the step fails half-way
    conn.execute("ALTER TABLE user_meaningful_days RENAME TO user_meaningful_days_away")
    with pytest.raises(duckdb.CatalogException):
        update_journeys(conn, **TOPICS)
    assert conn.execute("SELECT count(*) FROM user_identities").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM journey_events").fetchone() == (1,)
    assert conn.execute("SELECT value FROM pipeline_watermarks").fetchone() == (first.watermark,)

    conn.execute("ALTER TABLE user_meaningful_days_away RENAME TO user_meaningful_days")
    result = update_journeys(conn, **TOPICS)
    assert result.watermark_before == first.watermark < result.watermark
    assert (result.rows_added, result.identities_linked) == (2, 1)
    assert owners(conn)[view["event_id"]] == "u9"
    assert journey(conn, "u1")["meaningful_days"] == 1


def test_journey_events_check_finds_events_without_a_raw_event(conn, raw):
    raw.add(signup("u1", at("2026-02-01")), page_view("a1", at("2026-02-01")))
    update_journeys(conn, **TOPICS)
    clean = events_without_raw_event(conn, **TOPICS)
    assert (clean.checked, clean.dangling) == (2, 0)

    conn.execute("DELETE FROM raw_clickstream_events")
    broken = events_without_raw_event(conn, **TOPICS)
    assert (broken.checked, broken.dangling) == (2, 1)
    assert len(broken.examples) == 1 and broken.duplicated == 0

    conn.execute(
        "INSERT INTO journey_events_by_user SELECT * FROM journey_events_by_user"
    )  # every key twice
    assert events_without_raw_event(conn, **TOPICS).duplicated == 1
    [(latest,)] = conn.execute(
        "SELECT id FROM ducklake_current_snapshot(current_database())"
    ).fetchall()
    # only the journey events committed after a snapshot: none after the latest
    assert events_without_raw_event(conn, **TOPICS, after_batch=latest).checked == 0
