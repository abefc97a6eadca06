"""The daily schedule: every morning at 06:00 UTC, yesterday's report."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from analytics_pipeline.defs.report import defs
from analytics_pipeline.resources import build_resources
from analytics_pipeline.settings import load_settings


@pytest.fixture(scope="module")
def schedule() -> dg.ScheduleDefinition:
    resources = dg.Definitions(resources=build_resources(load_settings({})))
    return dg.Definitions.merge(defs, resources).get_schedule_def("funnel_report_daily")


def test_schedule_runs_daily_at_six_utc_and_is_on_by_default(schedule):
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.execution_timezone in (None, "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "funnel_report_job"


@pytest.mark.parametrize(
    ("tick", "partition"),
    [
        (datetime(2026, 3, 5, 6, 0, tzinfo=UTC), "2026-03-04"),
        (datetime(2026, 4, 1, 6, 0, tzinfo=UTC), "2026-03-31"),
        (datetime(2027, 1, 1, 6, 0, tzinfo=UTC), "2026-12-31"),
    ],
)
def test_a_tick_requests_the_report_of_the_day_before(schedule, tick, partition):
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == partition
    assert request.job_name == "funnel_report_job"
