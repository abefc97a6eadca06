"""What the `alerts` asset and the send job tell the sensor, through the Dagster event log.

The sensor never opens DuckDB (one writer process): it reads these metadata keys from the
latest materialisation (after the rules ran) or observation (after a send run) of `alerts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg

from analytics_pipeline.alerts.evaluation import RulesReport

ALERTS_KEY = dg.AssetKey("alerts")
DELIVERED_CHECK = "alerts_delivered"

PENDING = "pending"  # int: alerts waiting to be posted
NEW_ALERTS = "new_alerts"  # int: alerts this materialisation stored
RETRY_AFTER_S = "retry_after_s"  # float: wait this long before sending again (0: at once)
# float epoch s: when a clock rule (deployment_slow, onboarding_stalled…) next becomes due
NEXT_CLOCK_CHECK_AT = "next_clock_check_at"


def outbox_metadata(
    counts: dict[str, int], report: RulesReport, retry_after_s: float = 0.0
) -> dict[str, Any]:
    """The metadata both the asset and the send job record (the sensor's contract)."""
    metadata: dict[str, Any] = {
        PENDING: dg.MetadataValue.int(counts.get("pending", 0)),
        "sent": dg.MetadataValue.int(counts.get("sent", 0)),
        "failed": dg.MetadataValue.int(counts.get("failed", 0)),
        "skipped": dg.MetadataValue.int(counts.get("skipped", 0)),
        RETRY_AFTER_S: dg.MetadataValue.float(float(retry_after_s)),
        # Per clock rule, what it watches that is not due yet (e.g. open_deployments).
        **{name: dg.MetadataValue.int(count) for name, count in report.watching.items()},
        "evaluated_at": dg.MetadataValue.timestamp(report.evaluated_at),
    }
    if report.next_clock_check_at is not None:
        metadata[NEXT_CLOCK_CHECK_AT] = dg.MetadataValue.float(
            report.next_clock_check_at.timestamp()
        )
    return metadata


def read_number(metadata: dict[str, Any], key: str, default: float | None = None) -> float | None:
    """A number from stored metadata (MetadataValue or plain), or `default`."""
    value = metadata.get(key)
    value = getattr(value, "value", value)
    return float(value) if isinstance(value, int | float) else default


def _delivered(failed: list[dict[str, Any]], failed_count: int) -> dict[str, Any]:
    return {
        "passed": failed_count == 0,
        "severity": dg.AssetCheckSeverity.WARN,
        "description": (
            "every alert was posted or is still being retried"
            if failed_count == 0
            else f"{failed_count} alerts could not be posted to Slack (status failed): "
            "see latest_failed for their last error"
        ),
        "metadata": {
            "failed": dg.MetadataValue.int(failed_count),
            "latest_failed": dg.MetadataValue.json(failed),
        },
    }


def delivered_check_result(failed: list[dict[str, Any]], failed_count: int) -> dg.AssetCheckResult:
    """`alerts_delivered` as the asset reports it: warns while some alert is `failed`."""
    return dg.AssetCheckResult(
        asset_key=ALERTS_KEY, check_name=DELIVERED_CHECK, **_delivered(failed, failed_count)
    )


def delivered_check_evaluation(
    failed: list[dict[str, Any]], failed_count: int
) -> dg.AssetCheckEvaluation:
    """The same check as the send job logs it, right after it marks alerts `failed`."""
    return dg.AssetCheckEvaluation(
        asset_key=ALERTS_KEY, check_name=DELIVERED_CHECK, **_delivered(failed, failed_count)
    )


def as_datetime_text(value: datetime | None) -> str:
    return value.isoformat() if value else "-"
