"""`send_alerts_sensor`: launches the send job when alerts are pending or a deployment is due.

It never opens DuckDB. It reads the latest materialisation (the rules ran) or observation (a
send run finished) of the `alerts` asset from the Dagster instance, remembering the storage id
it has handled in its cursor, and launches `send_alerts`:

- when alerts are pending: at once, unless the last send run asked to wait (`retry_after_s`:
  Slack down or rate limited; 0 when only its time budget ran out), and no sooner than
  RETRY_DELAY_SECONDS after a failed run (a wrong token fails every run until fixed);
- when a clock rule becomes due (`next_clock_check_at`: an open deployment reaches its slow
  threshold, a user who signed up reaches the stalled threshold).

No new run is requested while one is still queued (it will see everything pending when it
starts), nor for leftovers or the clock while one is running. Run keys are deterministic: the
storage id of the event that caused the run, plus a minute bucket for retries.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import dagster as dg

from analytics_pipeline.alerts.thresholds import RETRY_DELAY_SECONDS
from analytics_pipeline.defs.alerts import signals
from analytics_pipeline.defs.alerts.send import SEND_ALERTS_JOB, send_alerts_job

# New alerts are posted by the ingest run that stored them; this sensor is for what that post
# left (Slack failures, retried after RETRY_DELAY_SECONDS = 60 s anyway) and for the clock
# rules, whose thresholds are minutes (ANALYTICS_DEPLOY_SLOW_MINUTES, _STALLED_AFTER_MINUTES).
# Every 15 s, not every 5 s daemon pass: it was two thirds of an idle pipeline's sensor ticks
# (each a tick row written, a gRPC call and an instance in the code server), for a clock alert
# at most 15 s later on a 10-minute threshold.
SENSOR_INTERVAL_SECONDS = 15
NOT_STARTED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]


@dataclass
class Cursor:
    storage_id: int = 0  # latest alerts event handled
    pending: int = 0  # pending alerts as of that event
    retry_at: float = 0.0  # a send run asked to wait until then (epoch s)
    clock_at: float = 0.0  # next clock rule check (epoch s; 0: none)
    launched_at: float = 0.0  # last run requested

    @classmethod
    def load(cls, raw: str | None) -> Cursor:
        try:
            return cls(**json.loads(raw)) if raw else cls()
        except (TypeError, ValueError):
            return cls()

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _latest_alerts_event(instance: dg.DagsterInstance) -> tuple[int, str, dict, float] | None:
    """(storage_id, kind, metadata, timestamp) of the newest materialisation or observation."""
    newest = None
    for kind, fetch in (
        ("materialization", instance.fetch_materializations),
        ("observation", instance.fetch_observations),
    ):
        records = fetch(signals.ALERTS_KEY, limit=1).records
        if not records:
            continue
        record = records[0]
        entry = record.event_log_entry
        event = entry.asset_materialization if kind == "materialization" else None
        event = event or entry.asset_observation
        metadata = dict(event.metadata) if event is not None else {}
        if newest is None or record.storage_id > newest[0]:
            newest = (record.storage_id, kind, metadata, record.timestamp)
    return newest


def _skip(message: str, cursor: Cursor) -> dg.SensorResult:
    return dg.SensorResult(skip_reason=dg.SkipReason(message), cursor=cursor.dump())


def _count_runs(instance: dg.DagsterInstance, statuses: list[dg.DagsterRunStatus]) -> int:
    return instance.get_runs_count(dg.RunsFilter(job_name=SEND_ALERTS_JOB, statuses=statuses))


def _last_send_failed(instance: dg.DagsterInstance) -> bool:
    runs = instance.get_runs(dg.RunsFilter(job_name=SEND_ALERTS_JOB), limit=1)
    return bool(runs) and runs[0].status == dg.DagsterRunStatus.FAILURE


@dg.sensor(
    name="send_alerts_sensor",
    job=send_alerts_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=__doc__.split("\n\n")[0] if __doc__ else None,
)
def send_alerts_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    now = time.time()
    cursor = Cursor.load(context.cursor)
    instance = context.instance
    fresh_alerts = False
    latest = _latest_alerts_event(instance)
    if latest is not None and latest[0] > cursor.storage_id:
        storage_id, kind, metadata, timestamp = latest
        cursor.storage_id = storage_id
        cursor.pending = int(signals.read_number(metadata, signals.PENDING, 0) or 0)
        cursor.clock_at = signals.read_number(metadata, signals.NEXT_CLOCK_CHECK_AT, 0.0) or 0.0
        if kind == "observation":  # a send run finished: it says when to try again
            retry_after = signals.read_number(metadata, signals.RETRY_AFTER_S, 0.0) or 0.0
            cursor.retry_at = timestamp + retry_after
        else:
            new_alerts = signals.read_number(metadata, signals.NEW_ALERTS, 0) or 0
            fresh_alerts = new_alerts > 0 and cursor.pending > 0

    send_due = cursor.pending > 0 and now >= cursor.retry_at
    clock_due = cursor.clock_at > 0 and now >= cursor.clock_at
    if not (send_due or clock_due):
        return _skip("no pending alerts and no clock rule due", cursor)
    if _count_runs(instance, NOT_STARTED):
        # A queued run sends everything pending when it starts.
        return _skip("a send_alerts run is already queued", cursor)
    if not fresh_alerts and _count_runs(instance, [dg.DagsterRunStatus.STARTED]):
        # It sends what is pending; only alerts stored after it started need another run.
        return _skip("a send_alerts run is in progress", cursor)
    if _last_send_failed(instance) and now - cursor.launched_at < RETRY_DELAY_SECONDS:
        return _skip(
            f"the last send_alerts run failed; retrying {RETRY_DELAY_SECONDS} s after it", cursor
        )
    cursor.launched_at = now
    if fresh_alerts:
        run_key = f"alerts-{cursor.storage_id}"
    else:
        run_key = f"retry-{cursor.storage_id}-{int(now // RETRY_DELAY_SECONDS)}"
    reason = "pending alerts" if send_due else "clock rule due"
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"analytics/reason": reason})],
        cursor=cursor.dump(),
    )
