"""From a Kafka event to one Slack message: real broker, real Dagster, real DuckDB, the stub."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster import DagsterRunStatus, RunsFilter

from analytics_pipeline.defs import alerts, freshness, ingest, journeys
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline_tests.fixtures.slack import SlackStub
from analytics_pipeline_tests.fixtures.stack import wait_until


def signup_event(user_id: str) -> dict[str, Any]:
    return {
        "event_id": f"signup-{uuid.uuid4().hex}",
        "type": "api_request",
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "user_id": user_id,
        "request": {"method": "POST", "path": "/auth/signup", "status": 201, "duration_ms": 12},
    }


def sensor_ticks_since(instance: dg.DagsterInstance, sensor: str, since: float) -> list[Any]:
    """The finished evaluations (skipped, launched or failed) of `sensor` that began after
    `since` (a Unix time)."""
    from dagster._core.scheduler.instigation import InstigatorType, TickStatus

    done = [TickStatus.SKIPPED, TickStatus.SUCCESS, TickStatus.FAILURE]
    return [
        tick
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        if state.instigator_name == sensor
        for tick in instance.get_ticks(
            state.instigator_origin_id, state.selector_id, after=since, statuses=done
        )
    ]


def ingest_definitions(
    kafka_bootstrap: str,
    clickstream: str,
    backend: str,
    warehouse: WarehouseResource,
    slack: SlackResource,
) -> dg.Definitions:
    """The ingest jobs (raw tables, journeys, alerts) and send_alerts on the test's topics."""
    return dg.Definitions.merge(
        ingest.defs,
        freshness.defs,  # the ingest jobs name its checks (to leave them out)
        journeys.defs,
        alerts.defs,
        dg.Definitions(
            resources={
                "warehouse": warehouse,
                "slack": slack,
                "kafka": KafkaResource(
                    bootstrap_servers=kafka_bootstrap,
                    clickstream_topic=clickstream,
                    backend_topic=backend,
                    sensor_wait_seconds=0,  # one look per tick, as before the setting existed
                ),
                "analytics": AnalyticsResource(),
            }
        ),
    )


def run_failures(instance: dg.DagsterInstance, records: list[Any]) -> str:
    """The jobs and errors of failed runs, for the assertion message."""
    lines = []
    for record in records:
        run = record.dagster_run
        errors = [
            event.dagster_event.event_specific_data.error.message
            for event in instance.all_logs(run.run_id)
            if event.dagster_event is not None
            and event.dagster_event.event_type_value == "STEP_FAILURE"
        ]
        lines.append(f"{run.job_name} {run.run_id} failed: {' | '.join(errors)[:2000]}")
    return "\n".join(lines)


def test_replaying_the_same_kafka_range_posts_one_message(
    new_topics: Callable[..., tuple[str, str]],
    produce: Callable[..., list[tuple[int, int]]],
    kafka_bootstrap: str,
    dagster_instance: dg.DagsterInstance,
    warehouse: WarehouseResource,
    slack_resource: SlackResource,
    slack_stub: SlackStub,
) -> None:
    clickstream, backend = new_topics(partitions=1)
    produce(backend, [signup_event("user-replay")], partition=0)
    defs = ingest_definitions(kafka_bootstrap, clickstream, backend, warehouse, slack_resource)
    ingest_job = defs.resolve_job_def("ingest_backend")
    send_job = defs.resolve_job_def("send_alerts")
    ranges = {"ranges": [{"partition": 0, "start": 0, "end": 1}]}

    for _ in range(2):  # the same offset range twice, each followed by a send run
        ingest_job.execute_in_process(
            instance=dagster_instance,
            run_config={"ops": {"raw_backend_events": {"config": ranges}}},
        )
        send_job.execute_in_process(instance=dagster_instance)

    (message,) = slack_stub.messages("#portal-alerts")
    assert "New sign-up" in message["text"] and "`user-replay`" in message["text"]


@pytest.mark.slow
@pytest.mark.timeout(600)  # two waits of up to 240 s each on a loaded machine
def test_signups_produced_to_kafka_reach_the_stub_once_each_through_the_daemon(
    new_topics: Callable[..., tuple[str, str]],
    produce: Callable[..., list[tuple[int, int]]],
    dagster_daemon: Callable[..., Any],
    dagster_instance: dg.DagsterInstance,
    slack_stub: SlackStub,
    tmp_path: Path,
    lake_env: dict[str, str],
) -> None:
    """The first sign-up is posted by its ingest run; the second meets a Slack 500 there and is
    posted by the send_alerts run that send_alerts_sensor launches."""
    clickstream, backend = new_topics(partitions=1)
    daemon = dagster_daemon(
        {
            "ANALYTICS_CLICKSTREAM_TOPIC": clickstream,
            "ANALYTICS_BACKEND_TOPIC": backend,
            **lake_env,
            "ANALYTICS_REPORTS_DIR": str(tmp_path / "reports"),
            "SLACK_BOT_TOKEN": slack_stub.token,
            "SLACK_API_URL": slack_stub.api_url,
            "SLACK_ALERTS_CHANNEL": "#portal-alerts",
        }
    )
    started = datetime.now(UTC)

    def posted(user: str) -> list[dict[str, Any]]:
        assert daemon.alive(), daemon.log_tail()
        failed = dagster_instance.get_run_records(
            RunsFilter(statuses=[DagsterRunStatus.FAILURE], created_after=started)
        )
        assert not failed, run_failures(dagster_instance, failed)
        return [m for m in slack_stub.messages("#portal-alerts") if f"`{user}`" in m["text"]]

    def arrives(user: str) -> dict[str, Any]:
        (message,) = wait_until(
            lambda: posted(user),
            timeout=240,
            interval=0.5,
            message=f"no Slack message for {user}; see {daemon.log_path}",
        )
        return message

    first, second = (f"user-{uuid.uuid4().hex[:6]}" for _ in range(2))
    produce(backend, [signup_event(first)], partition=0)
    assert "New sign-up" in arrives(first)["text"]

    slack_stub.fail("chat.postMessage", [{"status": 500}])
    produce(backend, [signup_event(second)], partition=0)
    assert "New sign-up" in arrives(second)["text"]
    wait_until(
        lambda: dagster_instance.get_runs(
            RunsFilter(
                job_name="send_alerts",
                statuses=[DagsterRunStatus.SUCCESS],
                created_after=started,
            )
        ),
        timeout=120,
        message="no send_alerts run succeeded",
    )
    assert [c["status"] for c in slack_stub.calls("chat.postMessage")] == [200, 500, 200]

    # Further sensor ticks and runs must not post anything again: once every run has finished,
    # send_alerts_sensor evaluates once more from scratch, and whatever that launches finishes.
    wait_until(
        lambda: not daemon.runs_since_start(),
        timeout=60,
        interval=0.25,
        message=f"runs still in flight; see {daemon.log_path}",
    )
    settled_from = time.time()
    wait_until(
        lambda: (
            sensor_ticks_since(dagster_instance, "send_alerts_sensor", settled_from)
            and not daemon.runs_since_start()
        ),
        timeout=60,
        interval=0.25,
        message=f"send_alerts_sensor did not evaluate again; see {daemon.log_path}",
    )
    assert len(posted(first)) == 1 and len(posted(second)) == 1
