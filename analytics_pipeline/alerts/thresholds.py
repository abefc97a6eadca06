"""The rules' settings at evaluation time, and the numbers the sender uses (SPEC §2, §7).

A rule's own fixed numbers (3 errors within 5 minutes…) are declared in its file of
`alerts/rules/`; what a user may change is a setting (settings.py), read here by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from analytics_pipeline.settings import Settings


@dataclass(frozen=True)
class Thresholds:
    """The settings the rules read (minutes, by Settings field name; a missing one has its
    default from settings.py), and the lookback."""

    minutes: Mapping[str, int] = field(default_factory=dict)
    # Events older than this at evaluation time never alert, so replaying history never
    # floods Slack.
    lookback: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, **minutes: int | None) -> Thresholds:
        """E.g. `from_settings(deploy_slow_minutes=2)`; None keeps the default."""
        unknown = [name for name in minutes if not isinstance(getattr(Settings, name, None), int)]
        if unknown:
            raise ValueError(f"not a minutes setting of settings.Settings: {', '.join(unknown)}")
        return cls(minutes={name: value for name, value in minutes.items() if value is not None})

    def setting(self, name: str) -> timedelta:
        """The duration of the minutes setting `name` (a field of settings.Settings)."""
        value = self.minutes.get(name)
        return timedelta(minutes=getattr(Settings, name) if value is None else value)


# An alert Slack refused this many times (invalid_blocks, msg_too_long…) is marked `failed`
# and shows up in the `alerts_delivered` asset check; transient trouble never counts.
MAX_SEND_ATTEMPTS = 5

# Slack allows about one message per second per channel; one send run stops after this long
# and leaves the rest pending for the next run, so it never holds the warehouse for minutes.
SEND_BUDGET_SECONDS = 20.0

# Longest Retry-After slack_sdk waits out inside a run; a longer one leaves the alert pending.
MAX_RATE_LIMIT_WAIT_SECONDS = 30

# After a transient failure the sensor waits this long before trying again.
RETRY_DELAY_SECONDS = 60

# The rules' run posts the alerts it just stored for at most this long (Slack calls time out
# after QUICK_POST_TIMEOUT_SECONDS, a 429 is not waited out); the rest is the send job's.
QUICK_POST_BUDGET_SECONDS = 5.0
QUICK_POST_TIMEOUT_SECONDS = 5

# Most alerts one send run takes from the outbox (oldest first).
SEND_BATCH_LIMIT = 500

# A poster holds the alert it is posting (marked "posting") for at most this long: one
# chat.postMessage with every retry the client makes (a connection retry of 2 x 15 s, three
# Retry-After waits of 30 s) fits in it. Another poster leaves a held alert alone; a mark this
# old is a poster that stopped mid-post, and the alert goes to the history lookup.
POSTING_LEASE_SECONDS = 180
