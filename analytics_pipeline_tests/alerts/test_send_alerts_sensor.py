"""send_alerts_sensor decides from the Dagster event log alone when a send run is worth it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from analytics_pipeline.defs.alerts.send import send_alerts_job
from analytics_pipeline.defs.alerts.sensors import send_alerts_sensor
from analytics_pipeline_tests.alerts.conftest import AlertsRunner, Journey, minutes_ago
from analytics_pipeline_tests.fixtures.slack import SlackStub


def tick(
    instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None, str | None]:
    """One sensor evaluation: (run requests, new cursor, skip message)."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = send_alerts_sensor(context)
    assert isinstance(result, dg.SensorResult)
    skipped = result.skip_reason.skip_message if result.skip_reason else None
    return list(result.run_requests or []), result.cursor, skipped


def test_new_pending_alerts_launch_one_send_run_with_a_deterministic_key(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    instance = alerts_runner.instance
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()

    (request,), cursor, _ = tick(instance, None)
    again, _, _ = tick(instance, None)  # the same state gives the same run key
    assert request.run_key is not None and request.run_key.startswith("alerts-")
    assert [r.run_key for r in again] == [request.run_key]

    alerts_runner.send()  # the requested run posts the alert
    requests, _, skipped = tick(instance, cursor)
    assert requests == [] and skipped == "no pending alerts and no clock rule due"
    assert len(slack_stub.messages()) == 1


def test_nothing_pending_launches_nothing(journey: Journey, alerts_runner: AlertsRunner) -> None:
    journey.add("page_viewed", minutes_ago(1)).commit()
    alerts_runner.evaluate()
    requests, _, skipped = tick(alerts_runner.instance, None)
    assert requests == [] and skipped is not None


def test_after_slack_failed_the_sensor_waits_before_retrying(
    journey: Journey, alerts_runner: AlertsRunner, slack_stub: SlackStub
) -> None:
    instance = alerts_runner.instance
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    _, cursor, _ = tick(instance, None)
    slack_stub.fail("chat.postMessage", [{"status": 500}])
    alerts_runner.send()  # leaves the alert pending, asks for a retry in 60 s

    requests, cursor, _ = tick(instance, cursor)
    assert requests == []
    state = json.loads(cursor or "{}")
    assert state["pending"] == 1 and state["retry_at"] > time.time() + 50

    state["retry_at"] = time.time() - 1  # a minute later
    (request,), _, _ = tick(instance, json.dumps(state))
    assert request.run_key is not None and request.run_key.startswith("retry-")


def test_a_deployment_reaching_its_slow_threshold_launches_a_run(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=10, seconds=1)
    journey.add("deployment_started", start, deployment_id="d-1").commit()
    alerts_runner.evaluate(now=start + timedelta(minutes=5))  # the rules ran before it was due

    (request,), _, _ = tick(alerts_runner.instance, None)
    assert request.tags["analytics/reason"] == "clock rule due"


def test_no_second_run_is_requested_while_one_is_queued(
    journey: Journey, alerts_runner: AlertsRunner
) -> None:
    instance = alerts_runner.instance
    journey.add("signed_up", minutes_ago(1), user="user-1").commit()
    alerts_runner.evaluate()
    # Created but not yet started, as a run waiting in the queue is.
    queued = instance.create_run_for_job(
        send_alerts_job, status=dg.DagsterRunStatus.NOT_STARTED, run_config={}
    )
    try:
        requests, _, skipped = tick(instance, None)
    finally:
        instance.delete_run(queued.run_id)
    assert requests == [] and skipped == "a send_alerts run is already queued"
