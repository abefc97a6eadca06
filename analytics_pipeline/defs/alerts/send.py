"""The `send_alerts` job: the clock rules, then every pending alert posted to Slack."""

import dagster as dg
from pydantic import Field

from analytics_pipeline.alerts import outbox
from analytics_pipeline.alerts.evaluation import evaluate_clock
from analytics_pipeline.alerts.rules import CLOCK_RULES
from analytics_pipeline.alerts.sender import SendReport, SlackConfigurationError, send_pending
from analytics_pipeline.alerts.thresholds import MAX_SEND_ATTEMPTS, SEND_BUDGET_SECONDS
from analytics_pipeline.defs.alerts import signals
from analytics_pipeline.defs.alerts.assets import RulesConfig
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.slack import ENABLE_HINT, SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource

SEND_ALERTS_JOB = "send_alerts"


class SendConfig(RulesConfig):
    budget_s: float = Field(
        default=SEND_BUDGET_SECONDS,
        description="Stop posting after this long; the rest stays pending for the next run.",
        gt=0,
    )
    max_attempts: int = Field(
        default=MAX_SEND_ATTEMPTS,
        description="Times Slack may refuse an alert's message before it is failed.",
        gt=0,
    )


@dg.op(
    pool="ingest",
    description=(
        "Evaluates the clock rules ("
        + ", ".join(rule.name for rule in CLOCK_RULES)
        + ") at the current time, then posts pending alerts with chat.postMessage and records "
        "sent / attempts / last_error on each."
    ),
)
def send_pending_alerts(
    context: dg.OpExecutionContext,
    config: SendConfig,
    warehouse: WarehouseResource,
    slack: SlackResource,
    analytics: AnalyticsResource,
) -> dg.Output[None]:
    problem: SlackConfigurationError | None = None
    report = SendReport()
    now = config.now()
    with warehouse.connect() as conn:
        clock = evaluate_clock(
            conn,
            now=now,
            thresholds=config.thresholds(analytics),
            slack_enabled=slack.enabled,
        )
        skipped = 0
        if not slack.enabled:
            skipped = outbox.skip_pending(conn, reason="Slack not configured", now=now)
            if skipped or clock.new_alerts:
                context.log.warning(
                    f"{skipped + clock.new_alerts} alerts recorded as skipped. {ENABLE_HINT}"
                )
        else:
            try:
                report = send_pending(
                    conn,
                    slack.client(),
                    slack.alerts_channel,
                    max_attempts=config.max_attempts,
                    budget_s=config.budget_s,
                )
            except SlackConfigurationError as error:
                problem, report = error, error.report
        counts = outbox.status_counts(conn)
        failed = outbox.failed_alerts(conn) if counts["failed"] else []

    if report.stopped_by == "transient":
        context.log.warning(
            f"Slack is unavailable ({report.last_error}); {counts['pending']} alerts stay "
            f"pending and are retried in about {report.retry_after_s:.0f} s."
        )
    if report.newly_failed:
        context.log.error(
            f"{len(report.newly_failed)} alerts reached {config.max_attempts} failed attempts "
            f"and are marked failed: {', '.join(report.newly_failed[:10])}"
        )
    metadata = {
        **signals.outbox_metadata(counts, clock, retry_after_s=report.retry_after_s),
        "sent_now": dg.MetadataValue.int(report.sent),
        "found_in_history_now": dg.MetadataValue.int(report.found_in_history),
        "held_by_another_poster_now": dg.MetadataValue.int(report.held_elsewhere),
        "failed_attempts_now": dg.MetadataValue.int(report.attempt_failures),
        "skipped_now": dg.MetadataValue.int(skipped),
        **{
            f"new_{rule.name}": dg.MetadataValue.int(clock.new_by_rule.get(rule.name, 0))
            for rule in CLOCK_RULES
        },
        "stopped_by": dg.MetadataValue.text(report.stopped_by or "done"),
    }
    # The sensor and the UI see the outbox's state through the alerts asset's history.
    context.log_event(dg.AssetObservation(asset_key=signals.ALERTS_KEY, metadata=metadata))
    context.log_event(signals.delivered_check_evaluation(failed, counts["failed"]))
    if problem is not None:
        raise dg.Failure(description=str(problem), metadata=metadata, allow_retries=False)
    return dg.Output(None, metadata=metadata)


@dg.job(
    name=SEND_ALERTS_JOB,
    description="Posts pending alerts to Slack; launched by send_alerts_sensor.",
    # In the `ingest` pool, whose runs also post alerts: one poster at a time, so a pending
    # alert is never posted by two runs at once. Ahead of queued ingest runs in that pool, so
    # an alert is not stuck behind them.
    # No run retries (dagster.yaml enables them): a bad token fails every retry alike, and
    # the sensor relaunches after transient trouble itself, with a back-off.
    tags={"dagster/priority": "5", "dagster/max_retries": "0"},
    # One op: a step subprocess (the default multiprocess executor) would only add seconds.
    executor_def=dg.in_process_executor,
)
def send_alerts_job() -> None:
    send_pending_alerts()
