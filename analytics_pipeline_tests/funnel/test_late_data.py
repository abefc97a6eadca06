"""Late events make exactly the funnel partitions they change stale, until re-materialised."""

from __future__ import annotations

from datetime import date

import dagster as dg

from analytics_pipeline.defs.funnel.assets import funnel_daily, users_by_activation_stage
from analytics_pipeline.defs.funnel.sensors import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    funnel_staleness_sensor,
)
from analytics_pipeline.defs.journeys.assets import FUNNEL_STALE_FROM, USER_JOURNEYS, journeys
from analytics_pipeline.funnel.stages import compute_funnel
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline_tests.fixtures.warehouse import warehouse_resource
from analytics_pipeline_tests.journeys.raw_events import (
    at,
    code_run,
    page_view,
    signup,
    topic_created,
)

DAYS = ("2026-03-01", "2026-03-06")


class Pipeline:
    """Runs the real assets and the sensor against one warehouse file and one instance."""

    def __init__(self, instance: dg.DagsterInstance, lake) -> None:
        self.instance = instance
        self.resources = {
            "warehouse": warehouse_resource(lake),
            "kafka": KafkaResource(),  # the journeys' topic names
            # In-process runs: background niceness would last for the whole test process.
            "analytics": AnalyticsResource(background_niceness=0),
        }
        self.cursor: str | None = None

    def journeys(self) -> dict[str, object]:
        result = dg.materialize([journeys], instance=self.instance, resources=self.resources)
        assert result.success
        [metadata] = [
            e.event_specific_data.materialization.metadata
            for e in result.get_asset_materialization_events()
            if e.event_specific_data.materialization.asset_key == USER_JOURNEYS
        ]
        return {k: v.value for k, v in metadata.items()}

    def funnel(self, tags: dict[str, str] | None = None, partition: str | None = None) -> None:
        result = dg.materialize(
            [users_by_activation_stage, funnel_daily],
            instance=self.instance,
            resources=self.resources,
            tags=tags,
            partition_key=partition,
        )
        assert result.success

    def sensor(self) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = funnel_staleness_sensor(context)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        return result


def requested_ranges(result: dg.SensorResult) -> list[tuple[str, str]]:
    ranges = []
    for request in result.run_requests or []:
        if request.partition_key:
            ranges.append((request.partition_key, request.partition_key))
        else:
            ranges.append((request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]))
    return ranges


def summaries(result: dg.SensorResult) -> dict[str, object]:
    return {
        e.asset_key.to_user_string(): e.metadata["stale_partitions"].value
        for e in result.asset_events
        if isinstance(e, dg.AssetObservation) and e.partition is None
    }


def daily(conn) -> dict[date, tuple]:
    rows = conn.execute("SELECT * FROM funnel_daily ORDER BY day").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_a_late_event_makes_only_its_partitions_stale_until_rematerialised(
    conn, raw, lake, fresh_funnel_instance
):
    pipeline = Pipeline(fresh_funnel_instance, lake)
    raw.add(
        signup("u1", at("2026-03-01")),
        topic_created("u1", at("2026-03-02")),
        signup("u2", at("2026-03-02")),
        signup("u3", at("2026-03-01", 9)),
        code_run("u3", at("2026-03-01", 10)),
    )
    first = pipeline.journeys()
    assert first[FUNNEL_STALE_FROM] == "2026-03-01"
    pipeline.funnel(tags={RANGE_START_TAG: DAYS[0], RANGE_END_TAG: DAYS[1]})
    fresh = pipeline.sensor()
    assert requested_ranges(fresh) == [] and summaries(fresh) == {}
    before = daily(conn)

    # u2's first meaningful action on 2026-03-04 arrives late
    raw.add(code_run("u2", at("2026-03-04")))
    assert pipeline.journeys()[FUNNEL_STALE_FROM] == "2026-03-04"

    stale = pipeline.sensor()
    expected = ["2026-03-04", "2026-03-05", "2026-03-06"]
    assert summaries(stale) == {"users_by_activation_stage": expected, "funnel_daily": expected}
    per_partition = {
        (e.asset_key.to_user_string(), e.partition) for e in stale.asset_events if e.partition
    }
    assert per_partition == {(k, p) for k in summaries(stale) for p in expected}
    [request] = stale.run_requests
    assert requested_ranges(stale) == [("2026-03-04", "2026-03-06")]
    # still stale (the run has not happened yet): same report, same run key, no new events
    again = pipeline.sensor()
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    assert again.asset_events == []

    pipeline.funnel(tags=dict(request.tags))
    after = daily(conn)
    assert {d: after[d] for d in after if d < date(2026, 3, 4)} == {
        d: before[d] for d in before if d < date(2026, 3, 4)
    }
    changed = {d for d in after if after[d] != before[d]}
    assert changed == {date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 6)}
    assert after[date(2026, 3, 4)][5] == 1  # newly_activated: u2

    cleared = pipeline.sensor()
    assert requested_ranges(cleared) == []
    assert summaries(cleared) == {"users_by_activation_stage": [], "funnel_daily": []}
    # what the refreshed tables hold is what a full recomputation gives
    compute_funnel(conn, date(2026, 3, 1), date(2026, 3, 6), inactive_after_days=15)
    assert daily(conn) == after


def test_a_late_event_that_changes_no_funnel_day_makes_nothing_stale(
    conn, raw, lake, fresh_funnel_instance
):
    pipeline = Pipeline(fresh_funnel_instance, lake)
    raw.add(signup("v1", at("2026-03-01")), page_view("anon-v1", at("2026-03-01"), user_id="v1"))
    pipeline.journeys()
    pipeline.funnel(partition="2026-03-02")
    pipeline.sensor()

    raw.add(page_view("anon-v1", at("2026-03-02")))  # a browser event of a known user
    metadata = pipeline.journeys()
    assert FUNNEL_STALE_FROM not in metadata
    assert metadata["users_touched"] == 1
    assert requested_ranges(pipeline.sensor()) == []
