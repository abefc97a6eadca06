"""Every number the alert rules and the sender use, in one place (SPEC §2, §7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Thresholds:
    """When each rule fires. Only `deploy_slow` is a setting (ANALYTICS_DEPLOY_SLOW_MINUTES)."""

    deploy_slow: timedelta = timedelta(minutes=10)
    api_errors_count: int = 3
    api_errors_window: timedelta = timedelta(minutes=5)
    login_failures_count: int = 3
    login_failures_window: timedelta = timedelta(minutes=10)
    # Events older than this at evaluation time never alert, so replaying history never
    # floods Slack.
    lookback: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, deploy_slow_minutes: int) -> Thresholds:
        return cls(deploy_slow=timedelta(minutes=deploy_slow_minutes))

    @property
    def longest_window(self) -> timedelta:
        """How far before the lookback horizon a window rule may need to look."""
        return max(self.api_errors_window, self.login_failures_window)


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
