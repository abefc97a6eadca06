"""The product's own settings (SPEC §2) as a resource, so assets never read the environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
from pydantic import Field

from analytics_pipeline.resources.background import yield_cpu
from analytics_pipeline.settings import Settings


class AnalyticsResource(dg.ConfigurableResource):
    """Funnel, alert, report and ingest-check settings; each default is the setting's.

    The topic names are the KafkaResource's.
    """

    inactive_after_days: int = Settings.inactive_after_days
    # The alert rules' settings in minutes, by settings.Settings field (deploy_slow_minutes,
    # stalled_after_minutes…; alerts/rules/); a missing one has its default from settings.py.
    alert_rule_minutes: dict[str, int] = Field(default_factory=dict)
    reports_dir: str = str(Settings.reports_dir)
    # The ingest check dead_letter_share warns above this share (ANALYTICS_DEAD_LETTER_WARN_SHARE).
    dead_letter_warn_share: float = Settings.dead_letter_warn_share
    # Scheduling niceness of background runs (funnel, report); 0 leaves it alone. A process
    # that runs assets in-process beside other work (a test) sets 0: it lasts for the process.
    background_niceness: int = Settings.background_niceness

    def run_in_background(self, log: Callable[[str], None]) -> None:
        """Let this run's process yield the CPU to ingest and alerts (resources.background)."""
        if self.background_niceness > 0:
            niceness = yield_cpu(self.background_niceness)
            log(f"background run: CPU niceness {niceness}, so ingest and alerts run first")

    @property
    def reports_path(self) -> Path:
        return Path(self.reports_dir).resolve()
