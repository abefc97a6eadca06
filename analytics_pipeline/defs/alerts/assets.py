"""The `alerts` asset: the alert rules, evaluated on new journey events after every ingest."""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from analytics_pipeline.alerts import outbox
from analytics_pipeline.alerts.evaluation import evaluate_rules
from analytics_pipeline.alerts.rules import RULES
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.defs.alerts import signals
from analytics_pipeline.defs.tags import AFTER_INGEST_TAGS
from analytics_pipeline.resources.slack import ENABLE_HINT, SlackResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.settings import load_settings


class RulesConfig(dg.Config):
    """Both default to the live values; set them to replay an evaluation or in tests."""

    evaluate_at: str | None = Field(
        default=None, description="ISO timestamp to evaluate at (default: now)."
    )
    deploy_slow_minutes: int | None = Field(
        default=None, description="Default: ANALYTICS_DEPLOY_SLOW_MINUTES.", gt=0
    )

    def now(self) -> datetime:
        if self.evaluate_at is None:
            return datetime.now(UTC)
        parsed = datetime.fromisoformat(self.evaluate_at.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise dg.Failure(f"evaluate_at needs a UTC offset, got {self.evaluate_at!r}")
        return parsed

    def thresholds(self) -> Thresholds:
        minutes = self.deploy_slow_minutes or load_settings().deploy_slow_minutes
        return Thresholds.from_settings(minutes)


@dg.asset(
    key=signals.ALERTS_KEY,
    deps=[dg.AssetKey("journey_events")],
    pool="duckdb",
    group_name="alerts",
    kinds={"duckdb"},
    tags=AFTER_INGEST_TAGS,
    description=(
        "The alerts outbox (SPEC §7): new sign-ups, failed and slow deployments, repeated API "
        "errors and login trouble, one row per alert key, evaluated on the journey events that "
        "are new since the last run. The send_alerts job posts them to Slack."
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
    config: RulesConfig,
    warehouse: WarehouseResource,
    slack: SlackResource,
) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        report = evaluate_rules(
            conn, now=config.now(), thresholds=config.thresholds(), slack_enabled=slack.enabled
        )
        counts = outbox.status_counts(conn)
        failed = outbox.failed_alerts(conn) if counts["failed"] else []
    if report.new_alerts and not slack.enabled:
        context.log.warning(f"{report.new_alerts} new alerts recorded as skipped. {ENABLE_HINT}")
    metadata = {
        **signals.outbox_metadata(counts, report),
        signals.NEW_ALERTS: dg.MetadataValue.int(report.new_alerts),
        **{f"new_{rule}": dg.MetadataValue.int(report.new_by_rule.get(rule, 0)) for rule in RULES},
        "events_read": dg.MetadataValue.int(report.events_read),
        "watermark": dg.MetadataValue.int(report.watermark_after),
        "slack_enabled": dg.MetadataValue.bool(slack.enabled),
    }
    check_key = dg.AssetCheckKey(signals.ALERTS_KEY, signals.DELIVERED_CHECK)
    checks = (
        [signals.delivered_check_result(failed, counts["failed"])]
        if check_key in context.selected_asset_check_keys
        else []
    )
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
