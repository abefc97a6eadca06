"""When a stage of a day is posted to Slack, kept, or skipped."""

import pytest

from analytics_pipeline.report.delivery import DELIVER, KEEP, SKIP, decide


@pytest.mark.parametrize(
    ("status", "slack", "backfill", "redeliver", "in_backfill", "expected", "fresh"),
    [
        (None, True, False, False, False, DELIVER, False),  # first delivery
        ("pending", True, False, False, False, DELIVER, False),
        ("failed", True, False, False, False, DELIVER, False),  # retry resumes
        ("skipped", True, False, False, False, DELIVER, False),  # e.g. rendered by a backfill
        ("sent", True, False, False, False, KEEP, False),  # delivered: not re-posted
        ("sent", True, False, True, False, DELIVER, True),  # redeliver: posted anew
        (None, False, False, False, False, SKIP, False),  # Slack not configured
        ("sent", False, False, True, False, KEEP, False),
        (None, True, True, False, False, SKIP, False),  # backfills only render ...
        (None, True, True, False, True, DELIVER, False),  # ... unless asked
        (None, True, True, True, False, DELIVER, False),
        ("sent", True, True, False, True, KEEP, False),
    ],
)
def test_delivery_decision(status, slack, backfill, redeliver, in_backfill, expected, fresh):
    decision = decide(
        status,
        slack_enabled=slack,
        backfill=backfill,
        redeliver=redeliver,
        deliver_in_backfill=in_backfill,
    )
    assert (decision.action, decision.fresh) == (expected, fresh)
