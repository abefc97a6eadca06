"""`onboarding_stalled`, key onboarding_stalled:<user>: a user who signed up
ANALYTICS_STALLED_AFTER_MINUTES ago, at evaluation time, and has had no meaningful action
(SPEC §5) since.

A clock rule, like deployment_slow: it fires when the time passes, with no new event. A user is
stalled from exactly the threshold after the sign-up (their first `signed_up` action); a
meaningful action at or after the sign-up, whenever it came, means they are not. Only the
sign-up must lie within the lookback (24 h) of the evaluation time. The founding design's
"assist users if we recognize they are stuck" starts here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from analytics_pipeline.alerts.format import iso, minutes, when
from analytics_pipeline.alerts.model import ActionEvent, Alert, ClockResult, Headline, OutboxAlert
from analytics_pipeline.alerts.rule_record import ClockRule, alert_key, recent, unique
from analytics_pipeline.alerts.thresholds import Thresholds
from analytics_pipeline.events.actions import MEANINGFUL_ACTIONS
from analytics_pipeline.slack import code

NAME = "onboarding_stalled"
SETTING = "stalled_after_minutes"  # ANALYTICS_STALLED_AFTER_MINUTES

# Each sign-up of the last day of a user not alerted yet, and that user's first meaningful
# action at or after it (if any): two rows per user at most, however active the users are.
INPUT_SQL = """
WITH signups AS (
    SELECT user_id, min(ts) AS ts, arg_min(event_id, ts) AS event_id
    FROM journey_events
    WHERE action = 'signed_up' AND user_id IS NOT NULL AND ts >= $since
        AND user_id NOT IN (
            SELECT entity FROM alerts WHERE rule = $rule AND entity IS NOT NULL
        )
    GROUP BY user_id
),
first_meaningful AS (
    SELECT j.event_id, j.user_id, j.ts, j.action
    FROM journey_events AS j
    JOIN signups AS s ON j.user_id = s.user_id AND j.ts >= s.ts
    WHERE list_contains($actions, j.action) AND j.action <> 'signed_up'
    QUALIFY row_number() OVER (PARTITION BY j.user_id ORDER BY j.ts, j.event_id) = 1
)
SELECT event_id, user_id, epoch_us(ts), 'signed_up', '{}' FROM signups
UNION ALL
SELECT event_id, user_id, epoch_us(ts), action, '{}' FROM first_meaningful
"""


def stalled_users(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> ClockResult:
    """onboarding_stalled at `now`; `events` must hold the users' sign-ups since
    now - lookback and their meaningful actions since."""
    stalled_after = thresholds.setting(SETTING)
    signups: dict[str, ActionEvent] = {}
    meaningful: dict[str, list[datetime]] = {}
    for event in sorted(events, key=lambda e: (e.ts, e.event_id)):
        if not event.user_id:
            continue
        if event.action == "signed_up":
            signups.setdefault(event.user_id, event)
        elif event.action in MEANINGFUL_ACTIONS:
            meaningful.setdefault(event.user_id, []).append(event.ts)

    stalled: list[Alert] = []
    watching = 0
    next_due: datetime | None = None
    for user_id, signup in signups.items():
        if not recent(signup.ts, now, thresholds):
            continue
        if any(ts >= signup.ts for ts in meaningful.get(user_id, ())):
            continue  # got going
        due = signup.ts + stalled_after
        if now < due:
            watching += 1
            next_due = due if next_due is None else min(next_due, due)
            continue
        stalled.append(
            Alert(
                key=alert_key(NAME, user_id),
                rule=NAME,
                user_id=user_id,
                entity=user_id,
                period=None,
                event_ts=signup.ts,
                details={
                    "signed_up_at": iso(signup.ts),
                    "threshold_minutes": stalled_after.total_seconds() / 60,
                },
            )
        )
    return ClockResult(alerts=unique(stalled), watching=watching, next_due_at=next_due)


def headline(alert: OutboxAlert) -> Headline:
    d = alert.details
    return Headline(
        ":hourglass_flowing_sand:",
        "Onboarding stalled",
        [
            ("User", code(alert.user_id)),
            ("Signed up", when(d.get("signed_up_at") or alert.event_ts)),
            (
                "Since then",
                f"no meaningful action for {minutes(d.get('threshold_minutes'))} minutes",
            ),
        ],
    )


RULE = ClockRule(
    name=NAME,
    fires_when=(
        "a user signed up `ANALYTICS_STALLED_AFTER_MINUTES` ago (at evaluation time) and has "
        "had no meaningful action since"
    ),
    entity="user",
    actions=frozenset({"signed_up", *MEANINGFUL_ACTIONS}),
    setting=SETTING,
    evaluate=stalled_users,
    input_sql=INPUT_SQL,
    watching="signups_watched",
    headline=headline,
)
