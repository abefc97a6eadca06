"""The report's data, as plain values: what one day's funnel and its stages look like."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from analytics_pipeline.funnel.stages import STAGES, FunnelDay

STAGE_TITLES: dict[str, str] = {
    "signed_up": "Signed up",
    "activated": "Activated",
    "active": "Active",
    "inactive": "Inactive",
}


def stage_rules(inactive_after_days: int) -> dict[str, str]:
    """One sentence per stage (SPEC §6), shown in the PDFs so readers know what they count."""
    w = inactive_after_days
    return {
        "signed_up": "Signed up, no meaningful action yet.",
        "activated": f"Meaningful actions on exactly one day, within the last {w} days.",
        "active": f"Meaningful actions on two or more days, the latest within the last {w} days.",
        "inactive": f"Had meaningful actions, but none in the last {w} days.",
    }


@dataclass(frozen=True)
class StageUser:
    """One user in a stage on the report day, with their journey up to the end of that day.

    `timeline` holds one entry per day with product actions, oldest first, e.g.
    "03-04 login run×5 deploy✓".
    """

    user_id: str
    stage: str
    entered_today: bool
    signed_up_at: datetime | None
    signup_inferred: bool
    last_meaningful_at: datetime | None
    last_seen_at: datetime | None
    meaningful_days: int
    timeline: tuple[str, ...]


@dataclass(frozen=True)
class StageSummary:
    """A stage's count on the day and its change against the day before (None: no data)."""

    stage: str
    count: int
    previous: int | None
    entered_today: int

    @property
    def change(self) -> int | None:
        return None if self.previous is None else self.count - self.previous

    @property
    def title(self) -> str:
        return STAGE_TITLES.get(self.stage, self.stage)

    def change_text(self) -> str:
        """'▲ 12 vs the day before', 'no change vs the day before', or 'no funnel for …'."""
        change = self.change
        if change is None:
            return "no funnel for the day before"
        if change == 0:
            return "no change vs the day before"
        arrow = "▲" if change > 0 else "▼"
        return f"{arrow} {abs(change):,} vs the day before"


@dataclass(frozen=True)
class ReportData:
    """Everything one day's report shows, read from the warehouse in one go."""

    day: date
    funnel: FunnelDay
    previous: FunnelDay | None
    trend: tuple[FunnelDay, ...]  # up to 14 days ending with `day`, oldest first
    users: dict[str, tuple[StageUser, ...]]  # stage -> users, in listing order
    inactive_after_days: int
    entered: dict[str, int] = field(default_factory=dict)  # stage -> users who entered on day

    def __post_init__(self) -> None:
        if not self.entered:
            counts = {
                stage: sum(1 for user in members if user.entered_today)
                for stage, members in self.users.items()
            }
            object.__setattr__(self, "entered", counts)

    def only(self, stages: Iterable[str]) -> ReportData:
        """A copy listing the users of `stages` only, counts unchanged: what a render worker
        needs, without shipping every user to every process."""
        users = {stage: self.users.get(stage, ()) for stage in stages if stage in self.users}
        return replace(self, users=users, entered=dict(self.entered))

    def summary(self, stage: str) -> StageSummary:
        return StageSummary(
            stage=stage,
            count=self.funnel.count(stage),
            previous=None if self.previous is None else self.previous.count(stage),
            entered_today=self.entered.get(stage, 0),
        )

    def summaries(self) -> list[StageSummary]:
        return [self.summary(stage) for stage in STAGES]
