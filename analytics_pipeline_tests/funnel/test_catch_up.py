"""A week of journeys and no funnel yet: one run computes every missing day, once; the
staleness sensor and the catch-up sensor never ask for the same day."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest

from analytics_pipeline.defs.funnel import catch_up
from analytics_pipeline.defs.funnel.catch_up import DUE_AFTER, funnel_catch_up_sensor
from analytics_pipeline.defs.funnel.jobs import funnel_job
from analytics_pipeline.defs.funnel.sensors import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    funnel_staleness_sensor,
)
from analytics_pipeline_tests.funnel.test_late_data import Pipeline, daily, requested_ranges
from analytics_pipeline_tests.journeys.raw_events import at, code_run, signup, topic_created


@pytest.fixture(autouse=True)
def one_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sensor and these helpers on the clock of the test's start: a test that ran across
    midnight UTC compared the days of two different dates."""
    now = catch_up.utc_now()
    monkeypatch.setattr(catch_up, "utc_now", lambda: now)


def today() -> date:
    return catch_up.utc_now().date()


def last_due_day() -> str:
    """Yesterday, once the schedule has had its hour; the day before until then."""
    return ((catch_up.utc_now() - DUE_AFTER).date() - timedelta(days=1)).isoformat()


def ago(days: int) -> str:
    return (today() - timedelta(days=days)).isoformat()


class Sensors:
    """Both funnel sensors ticking against one instance, each with its own cursor."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.cursors: dict[str, str | None] = {}

    def tick(self, sensor: dg.SensorDefinition) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursors.get(sensor.name)
        )
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        self.cursors[sensor.name] = result.cursor
        return result


def a_job_named(name: str) -> dg.JobDefinition:
    """A job by that name whose runs the instance records like any other (no resources)."""

    @dg.op
    def step() -> None: ...

    @dg.job(name=name)
    def job() -> None:
        step()

    return job


def a_week_of_journeys(raw) -> None:
    raw.add(
        signup("u1", at(ago(6), 9)),
        topic_created("u1", at(ago(5), 10)),
        signup("u2", at(ago(3), 11)),
        code_run("u2", at(ago(2), 12)),
        signup("u3", at(ago(0), 8)),
    )


def test_a_week_of_journeys_gets_its_whole_funnel_in_one_run_requested_once(
    conn, raw, lake, fresh_funnel_instance
):
    pipeline, sensors = Pipeline(fresh_funnel_instance, lake), Sensors(fresh_funnel_instance)
    nothing = sensors.tick(funnel_catch_up_sensor)
    assert not nothing.run_requests and nothing.skip_reason
    assert "no journeys data" in nothing.skip_reason.skip_message

    a_week_of_journeys(raw)
    pipeline.journeys()
    first = sensors.tick(funnel_catch_up_sensor)
    [request] = first.run_requests
    assert requested_ranges(first) == [(ago(6), last_due_day())]
    assert request.run_key == f"funnel-catch-up:{ago(6)}:{last_due_day()}"
    # ticking again before the run happened asks for the same run (Dagster drops it by key)
    again = sensors.tick(funnel_catch_up_sensor)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    # days never computed are not "stale": the staleness sensor leaves them alone
    assert not sensors.tick(funnel_staleness_sensor).run_requests

    pipeline.funnel(tags=request.tags)
    days = daily(conn)
    assert sorted(d.isoformat() for d in days) == [
        d for d in (ago(n) for n in range(6, 0, -1)) if d <= last_due_day()
    ]
    done = sensors.tick(funnel_catch_up_sensor)
    assert not done.run_requests and "no funnel day missing" in done.skip_reason.skip_message

    # a late event changes computed days: the staleness sensor re-computes them, alone
    raw.add(code_run("u1", at(ago(4), 15)))
    pipeline.journeys()
    stale = sensors.tick(funnel_staleness_sensor)
    assert requested_ranges(stale) == [(ago(4), last_due_day())]
    assert not sensors.tick(funnel_catch_up_sensor).run_requests


def test_days_a_running_funnel_run_covers_are_not_requested_again(
    conn, raw, lake, fresh_funnel_instance
):
    a_week_of_journeys(raw)
    Pipeline(fresh_funnel_instance, lake).journeys()
    fresh_funnel_instance.create_run_for_job(
        job_def=a_job_named(funnel_job.name),
        status=dg.DagsterRunStatus.STARTED,
        tags={RANGE_START_TAG: ago(6), RANGE_END_TAG: ago(4)},
    )
    result = Sensors(fresh_funnel_instance).tick(funnel_catch_up_sensor)
    assert requested_ranges(result) == [(ago(3), last_due_day())]
