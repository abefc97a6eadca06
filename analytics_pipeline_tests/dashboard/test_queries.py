"""The dashboard's queries against a lake seeded by the pipeline's own code (world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from analytics_pipeline.dashboard import outside, ranges
from analytics_pipeline.dashboard.queries import alerts as alerts_queries
from analytics_pipeline.dashboard.queries import funnel as funnel_queries
from analytics_pipeline.dashboard.queries import health as health_queries
from analytics_pipeline.dashboard.queries import journey as journey_queries
from analytics_pipeline.dashboard.queries import shared as shared_queries
from analytics_pipeline.dashboard.ranges import DayRange
from analytics_pipeline.warehouse import reading
from analytics_pipeline_tests.dashboard.conftest import SeededLake
from analytics_pipeline_tests.dashboard.world import ADA_ACTIONS, EXPECTED, SCRIPT_USER, W


@pytest.fixture
def ro(seeded_lake: SeededLake) -> Iterator[duckdb.DuckDBPyConnection]:
    with reading(seeded_lake.lake) as conn:
        yield conn


def preset(seeded_lake: SeededLake, name: str) -> DayRange:
    return ranges.preset_range(name, seeded_lake.today)


def _percent(part: int, whole: int) -> str:
    return "–" if not whole else f"{part / whole:.1%}"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_funnel_summary_and_conversion_per_preset(
    ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake, name: str
) -> None:
    expected = EXPECTED[name]
    day_range = preset(seeded_lake, name)
    summary = funnel_queries.funnel_summary(ro, day_range)
    assert summary.stages == expected.last_day_stages
    assert (summary.new_signups, summary.newly_activated, summary.newly_inactive) == (
        expected.new_signups,
        expected.newly_activated,
        expected.newly_inactive,
    )
    last = seeded_lake.today - timedelta(days=1) if name == "yesterday" else seeded_lake.today
    assert summary.last_day == last
    conversion = funnel_queries.conversion(ro, day_range, summary.last_day)
    assert _percent(conversion.signups_activated, conversion.signups) == (
        expected.signup_conversion
    )
    assert _percent(conversion.activated_active, conversion.activated) == (
        expected.activation_conversion
    )


def test_funnel_series_has_one_row_per_computed_day(
    ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake
) -> None:
    series = funnel_queries.funnel_series(ro, preset(seeded_lake, "7d"))
    assert len(series) == 7
    assert list(series["new_signups"]) == [0, 1, 0, 1, 0, 1, 1]  # T-5 bob, T-3, T-1, T
    assert funnel_queries.funnel_bounds(ro) == (
        seeded_lake.today - timedelta(days=40),
        seeded_lake.today,
    )


def test_a_range_without_computed_days_is_empty(ro: duckdb.DuckDBPyConnection) -> None:
    summary = funnel_queries.funnel_summary(
        ro, ranges.custom_range(date(2001, 1, 1), date(2001, 1, 9))
    )
    assert (summary.last_day, summary.days, summary.new_signups) == (None, 0, 0)
    assert summary.stages == dict.fromkeys(funnel_queries.STAGES, 0)


def test_users_in_stage(ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake) -> None:
    total, users = funnel_queries.users_in_stage(ro, seeded_lake.today, "signed_up")
    assert total == 3
    assert list(users["user_id"]) == [SCRIPT_USER, "carol", "frank"]
    total, users = funnel_queries.users_in_stage(ro, seeded_lake.today, "inactive", limit=1)
    assert total == 2 and list(users["user_id"]) == ["dave"]
    assert list(users["last_meaningful_day"]) == [seeded_lake.today - timedelta(days=38)]


def test_find_journey_by_user_anonymous_and_unknown_ids(ro: duckdb.DuckDBPyConnection) -> None:
    assert journey_queries.find_journey(ro, "ada") == journey_queries.JourneyMatch(
        "user", user_id="ada"
    )
    assert journey_queries.find_journey(ro, "anon-ada") == journey_queries.JourneyMatch(
        "user", user_id="ada", anonymous_id="anon-ada"
    )
    assert journey_queries.find_journey(ro, "anon-zz") == journey_queries.JourneyMatch(
        "anonymous", anonymous_id="anon-zz"
    )
    assert journey_queries.find_journey(ro, "nobody").kind == "none"
    assert journey_queries.similar_user_ids(ro, "AR") == ["carol"]


def test_journey_actions_are_time_ordered_with_attribution(
    ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake
) -> None:
    match = journey_queries.find_journey(ro, "ada")
    total, actions = journey_queries.journey_actions(ro, match, preset(seeded_lake, "all"))
    assert total == len(ADA_ACTIONS)
    assert list(actions["action"]) == [action for *_, action, _via in ADA_ACTIONS]
    assert [None if pd.isna(v) else v for v in actions["attributed_via"]] == [
        via for *_, via in ADA_ACTIONS
    ]
    assert actions["ts"].is_monotonic_increasing
    assert "image pull failed" in actions["details"].iloc[-1]
    # The 7-day range keeps the two actions of T-2.
    total, actions = journey_queries.journey_actions(ro, match, preset(seeded_lake, "7d"))
    assert (total, list(actions["action"])) == (2, ["code_run", "deployment_failed"])
    # A limit keeps the oldest and reports the total.
    total, actions = journey_queries.journey_actions(ro, match, preset(seeded_lake, "all"), limit=2)
    assert (total, list(actions["action"])) == (5, ["page_viewed", "signed_up"])


def test_anonymous_visitor_actions(ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake) -> None:
    match = journey_queries.find_journey(ro, "anon-zz")
    total, actions = journey_queries.journey_actions(ro, match, preset(seeded_lake, "all"))
    assert (total, list(actions["action"])) == (2, ["page_viewed", "page_viewed"])


def test_stage_history_as_runs_of_days(
    ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake
) -> None:
    today = seeded_lake.today
    history = journey_queries.stage_history(
        ro, "ada", preset(seeded_lake, "all"), inactive_after_days=W
    )
    assert [tuple(row) for row in history.itertuples(index=False)] == [
        (today - timedelta(days=10), today - timedelta(days=10), "signed_up", 1),
        (today - timedelta(days=9), today - timedelta(days=3), "activated", 7),
        (today - timedelta(days=2), today, "active", 3),
    ]


@pytest.mark.parametrize("name", ["all", "7d", "yesterday"])
def test_derived_stage_history_equals_the_stored_stage_rows(
    ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake, name: str
) -> None:
    day_range = preset(seeded_lake, name)
    users = [row[0] for row in ro.execute("SELECT user_id FROM user_journeys").fetchall()]
    assert len(users) == 7
    for user in users:
        derived = journey_queries.stage_history(ro, user, day_range, inactive_after_days=W)
        stored = journey_queries.stored_stage_history(ro, user, day_range)
        assert derived.to_dict("records") == stored.to_dict("records"), user


def test_alerts_counts_filters_and_order(
    ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake
) -> None:
    month = preset(seeded_lake, "30d")
    assert alerts_queries.alert_counts(ro, month) == {
        "pending": 1,
        "failed": 1,
        "sent": 2,
        "skipped": 1,
    }
    assert alerts_queries.alert_counts(ro, preset(seeded_lake, "7d"))["sent"] == 1
    total, rows = alerts_queries.alerts_list(ro, month, [], [])
    assert total == 5
    assert list(rows["status"])[:2] == ["failed", "pending"]  # the ones that need a look first
    total, rows = alerts_queries.alerts_list(ro, month, ["new_signup"], ["skipped", "sent"])
    assert (total, sorted(rows["user_id"])) == (2, [SCRIPT_USER, "frank"])
    total, rows = alerts_queries.alerts_list(ro, month, [], ["failed"])
    assert (total, list(rows["last_error"]), list(rows["attempts"])) == (
        1,
        ["invalid_blocks"],
        [3],
    )
    assert "deployment_slow" in alerts_queries.alert_rules(ro)


def test_dead_letters_by_day_and_safe_sample(
    ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake
) -> None:
    everything = health_queries.dead_letters_by_day(ro, preset(seeded_lake, "all"))
    assert int(everything["dead_letters"].sum()) == 3
    week = health_queries.dead_letters_by_day(ro, preset(seeded_lake, "7d"))
    assert [(r.day.date(), r.reason, r.dead_letters) for r in week.itertuples()] == [
        (seeded_lake.today - timedelta(days=1), "invalid_json", 2)
    ]
    sample = health_queries.dead_letter_sample(ro, preset(seeded_lake, "all"))
    assert set(sample["raw_value"]) == {
        "{not json",
        "<script>alert(2)</script>",
        '{"type": "page_view"}',
    }


def test_raw_values_are_cut_and_invalid_utf8_escaped() -> None:
    assert health_queries._raw_text(b"\xff\xfeab", 4) == "\\xff\\xfeab"
    assert health_queries._raw_text(b"abc", 10_000) == "abc … (10,000 bytes)"
    assert health_queries._raw_text(None, 0) == "(no value)"


def test_no_stale_days_in_a_freshly_computed_lake(
    ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake
) -> None:
    everything = preset(seeded_lake, "all")
    assert health_queries.missing_funnel_days(ro, everything).empty
    assert health_queries.funnel_days_behind_signups(ro, everything).empty


def test_ingest_lag_from_the_ledger_and_kafka(
    ro: duckdb.DuckDBPyConnection, seeded_lake: SeededLake
) -> None:
    from analytics_pipeline.settings import load_settings

    ledger = health_queries.ingest_ledger(ro)
    settings = load_settings({**seeded_lake.env(), "ANALYTICS_LAKE_PASSWORD": "x"})
    lag = outside.ingest_lag(ledger, outside.kafka_end_offsets(settings))
    rows = {row.topic: (row.end_offset, row.next_offset, row.lag) for row in lag.itertuples()}
    assert rows == {seeded_lake.clickstream_topic: (5, 3, 2), seeded_lake.backend_topic: (5, 5, 0)}


def test_missing_tables_names_what_a_new_lake_lacks(ro: duckdb.DuckDBPyConnection) -> None:
    assert shared_queries.missing_tables(ro, ["funnel_daily", "no_such_table"]) == ["no_such_table"]


# --- ranges (pure) ---------------------------------------------------------------------------

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("params", "first", "last"),
    [
        ({"range": "yesterday"}, date(2026, 3, 9), date(2026, 3, 9)),
        ({"range": "7d"}, date(2026, 3, 4), TODAY),
        ({"range": "30d"}, date(2026, 2, 9), TODAY),
        ({"range": "90d"}, date(2025, 12, 11), TODAY),
        ({"range": "all"}, ranges.EARLIEST, ranges.LATEST),
        (
            {"range": "custom", "from": "2026-01-02", "to": "2026-01-05"},
            date(2026, 1, 2),
            date(2026, 1, 5),
        ),
        (
            {"range": "custom", "from": "2026-01-05", "to": "2026-01-02"},
            date(2026, 1, 2),
            date(2026, 1, 5),
        ),
        ({}, date(2026, 2, 9), TODAY),  # the default: 30 days
        ({"range": "custom", "from": "nonsense"}, date(2026, 2, 9), TODAY),
        ({"range": "<script>"}, date(2026, 2, 9), TODAY),
    ],
)
def test_range_from_query_params(params: dict[str, str], first: date, last: date) -> None:
    day_range = ranges.from_query_params(params, TODAY)
    assert (day_range.first, day_range.last) == (first, last)


def test_range_round_trips_through_query_params() -> None:
    for day_range in (
        ranges.preset_range("7d", TODAY),
        ranges.custom_range(date(2026, 1, 2), date(2026, 1, 5)),
    ):
        assert ranges.from_query_params(day_range.query_params(), TODAY) == day_range
