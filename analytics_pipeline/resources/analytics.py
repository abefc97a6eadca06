"""The product's own settings (SPEC §2) as a resource, so assets never read the environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
from pydantic import Field

from analytics_pipeline.resources.background import yield_cpu


class AnalyticsResource(dg.ConfigurableResource):
    """Funnel, alert and report settings; the defaults are SPEC §2's."""

    clickstream_topic: str = "portal-clickstream"
    backend_topic: str = "portal-backend"
    inactive_after_days: int = 15
    # The alert rules' settings in minutes, by settings.Settings field (deploy_slow_minutes,
    # stalled_after_minutes…; alerts/rules/); a missing one has its default from settings.py.
    alert_rule_minutes: dict[str, int] = Field(default_factory=dict)
    reports_dir: str = "data/reports"
    # Scheduling niceness of background runs (funnel, report); 0 leaves it alone.
    background_niceness: int = 0

    def run_in_background(self, log: Callable[[str], None]) -> None:
        """Let this run's process yield the CPU to ingest and alerts (resources.background)."""
        if self.background_niceness > 0:
            niceness = yield_cpu(self.background_niceness)
            log(f"background run: CPU niceness {niceness}, so ingest and alerts run first")

    @property
    def topics(self) -> dict[str, str]:
        """The topic names journeys attribute raw rows to (keyword arguments of the SQL)."""
        return {"clickstream_topic": self.clickstream_topic, "backend_topic": self.backend_topic}

    @property
    def reports_path(self) -> Path:
        return Path(self.reports_dir).resolve()
