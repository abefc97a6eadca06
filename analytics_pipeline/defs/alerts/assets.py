"""The `alerts` asset: the alert rules, evaluated on new journey events after every ingest."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
from pydantic import Field

from analytics_pipeline.alerts import outbox
from analytics_pipeline.alerts.evaluation import evaluate_clock, evaluate_rules
from analytics_pipeline.alerts.rules import CLOCK_RULES, RULES
from analytics_pipeline.alerts.sender import SendReport, SlackConfigurationError, send_pending
from analytics_pipeline.alerts.thresholds import (
    QUICK_POST_BUDGET_SECONDS,
    QUICK_POST_TIMEOUT_SECONDS,
    RETRY_DELAY_SECONDS,
    Thresholds,
)
from analytics_pipeline.defs.alerts import signals
from analytics_pipeline.defs.ingest.live import live_metadata, run_live_tail
from analytics_pipeline.defs.table_metadata import OWNERS, definition_metadata, table_metadata
from analytics_pipeline.defs.tags import AFTER_INGEST_TAGS
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.slack import ENABLE_HINT, SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.settings import Settings


class RulesConfig(dg.Config):
    """Both default to the live values; set them to replay an evaluation or in tests.

    `evaluate_at` is the rules' one clock: every evaluation of a run (the asset, the send job,
    each micro-batch of the live tail) takes its "now" from `clock()`.
    """

    evaluate_at: str | None = Field(
        default=None, description="ISO timestamp to evaluate at (default: now)."
    )
    deploy_slow_minutes: int | None = Field(
        default=None, description="Default: ANALYTICS_DEPLOY_SLOW_MINUTES.", gt=0
    )

    def clock(self) -> Callable[[], datetime]:
        """The time the rules evaluate at: `evaluate_at` when set, else the current time."""
        if self.evaluate_at is None:
            return lambda: datetime.now(UTC)
        parsed = datetime.fromisoformat(self.evaluate_at.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise dg.Failure(f"evaluate_at needs a UTC offset, got {self.evaluate_at!r}")
        return lambda: parsed

    def now(self) -> datetime:
        return self.clock()()

    def thresholds(self, analytics: AnalyticsResource) -> Thresholds:
        minutes = dict(analytics.alert_rule_minutes)
        if self.deploy_slow_minutes is not None:
            minutes["deploy_slow_minutes"] = self.deploy_slow_minutes
        return Thresholds.from_settings(**minutes)


class AlertsConfig(RulesConfig):
    live_seconds: int = Field(
        default=0,
        ge=0,
        description=(
            "After this step, keep taking new messages from both topics for up to this many "
            "seconds, each micro-batch stored, turned into journeys, its rules evaluated and "
            "its alerts posted (the live tail, ingest/live.py). The ingest sensor sets it from "
            "ANALYTICS_INGEST_LIVE_SECONDS; 0: no live tail."
        ),
    )
    live_idle_seconds: int = Field(
        default=Settings.ingest_live_idle_seconds,
        ge=1,
        description="End the live tail after this many seconds without a new message.",
    )
    live_topics: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "The topics the live tail follows, by kind (clickstream, backend), as the run was "
            "planned; default: the configured topics."
        ),
    )
    post_new_alerts: bool = Field(
        default=True,
        description=(
            "Post the alerts this run stored right away (a few seconds at most), instead of "
            "waiting for send_alerts_sensor to launch a send run; send_alerts still retries "
            "whatever could not be posted, and evaluates the clock rules ("
            + ", ".join(rule.name for rule in CLOCK_RULES)
            + ") on the clock."
        ),
    )


def post_new_alerts(
    context: dg.AssetExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    slack: SlackResource,
    now: datetime,
) -> SendReport:
    """The quick post: fresh alerts only, short timeouts, never fails the ingest run."""
    if outbox.failed_recently(conn, since=now - timedelta(seconds=RETRY_DELAY_SECONDS)):
        context.log.info("Slack failed recently: leaving new alerts to the send_alerts job.")
        return SendReport()
    client = slack.client(timeout_s=QUICK_POST_TIMEOUT_SECONDS, max_rate_limit_wait_s=0)
    try:
        report = send_pending(
            conn,
            client,
            slack.alerts_channel,
            budget_s=QUICK_POST_BUDGET_SECONDS,
            fresh_only=True,
        )
    except SlackConfigurationError as error:
        context.log.warning(f"{error} (send_alerts will fail until this is fixed)")
        return error.report
    if report.last_error:
        context.log.warning(
            f"Slack did not take every new alert ({report.last_error}); send_alerts retries."
        )
    return report


@dg.asset(
    key=signals.ALERTS_KEY,
    deps=[dg.AssetKey("journey_events")],
    pool="ingest",
    group_name="alerts",
    kinds={"duckdb"},
    tags=AFTER_INGEST_TAGS,
    owners=OWNERS,
    metadata=definition_metadata("alerts"),
    description=(
        "Table alerts, the alerts outbox (SPEC §7), one row per alert key: rule, user_id, "
        "event_ts, status (pending, sent, failed, skipped), attempts, slack_ts, last_error. "
        f"Rules: {', '.join(rule.name for rule in RULES)}, one row per alert key, evaluated "
        "on the journey events that are new since the last run. New alerts are posted right "
        "away; the send_alerts job retries what could not be posted and evaluates the clock "
        f"rules ({', '.join(rule.name for rule in CLOCK_RULES)}) when they become due."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            signals.DELIVERED_CHECK,
            asset=signals.ALERTS_KEY,
            description="Warns when an alert could not be posted after every attempt.",
        )
    ],
)
def alerts(
    context: dg.AssetExecutionContext,
    config: AlertsConfig,
    warehouse: WarehouseResource,
    slack: SlackResource,
    analytics: AnalyticsResource,
    kafka: KafkaResource,
) -> dg.MaterializeResult:
    clock = config.clock()
    now = clock()
    thresholds = config.thresholds(analytics)
    with warehouse.connect() as conn:
        report = evaluate_rules(conn, now=now, thresholds=thresholds, slack_enabled=slack.enabled)
        posted = SendReport()
        if config.post_new_alerts and slack.enabled and report.new_alerts:
            posted = post_new_alerts(context, conn, slack, now)
        live = (
            run_live_tail(
                context,
                conn,
                seconds=config.live_seconds,
                planned_topics=config.live_topics,
                idle_seconds=config.live_idle_seconds,
                kafka=kafka,
                slack=slack,
                thresholds=thresholds,
                clock=clock,
                post=lambda at: post_new_alerts(context, conn, slack, at),
            )
            if config.live_seconds
            else None
        )
        if live is not None:
            # The tail evaluated the rules on what it took; the sensor must know what the clock
            # rules watch now (a sign-up or deployment taken by the tail becomes due later).
            after = evaluate_clock(
                conn, now=clock(), thresholds=thresholds, slack_enabled=slack.enabled
            )
            report = replace(
                report, watching=after.watching, next_clock_check_at=after.next_clock_check_at
            )
        counts = outbox.status_counts(conn)
        failed = outbox.failed_alerts(conn) if counts["failed"] else []
        table = table_metadata(conn, "alerts")
    if report.new_alerts and not slack.enabled:
        context.log.warning(f"{report.new_alerts} new alerts recorded as skipped. {ENABLE_HINT}")
    metadata = {
        **table,
        **signals.outbox_metadata(counts, report),
        signals.NEW_ALERTS: dg.MetadataValue.int(report.new_alerts),
        **{
            f"new_{rule.name}": dg.MetadataValue.int(report.new_by_rule.get(rule.name, 0))
            for rule in RULES
        },
        "posted_now": dg.MetadataValue.int(posted.sent),
        "events_read": dg.MetadataValue.int(report.events_read),
        "watermark": dg.MetadataValue.int(report.watermark_after),
        "slack_enabled": dg.MetadataValue.bool(slack.enabled),
        **(live_metadata(live) if live else {}),
    }
    check_key = dg.AssetCheckKey(signals.ALERTS_KEY, signals.DELIVERED_CHECK)
    checks = (
        [signals.delivered_check_result(failed, counts["failed"])]
        if check_key in context.selected_asset_check_keys
        else []
    )
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
