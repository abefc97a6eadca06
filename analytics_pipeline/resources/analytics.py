"""The product's own settings (SPEC §2) as a resource, so assets never read the environment."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


class AnalyticsResource(dg.ConfigurableResource):
    """Funnel, alert and report settings; the defaults are SPEC §2's."""

    clickstream_topic: str = "portal-clickstream"
    backend_topic: str = "portal-backend"
    inactive_after_days: int = 15
    deploy_slow_minutes: int = 10
    reports_dir: str = "data/reports"

    @property
    def topics(self) -> dict[str, str]:
        """The topic names journeys attribute raw rows to (keyword arguments of the SQL)."""
        return {"clickstream_topic": self.clickstream_topic, "backend_topic": self.backend_topic}

    @property
    def reports_path(self) -> Path:
        return Path(self.reports_dir).resolve()
