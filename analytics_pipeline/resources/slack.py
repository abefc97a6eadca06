"""Slack Web API client as a Dagster resource (owned by the alerts capability)."""

from __future__ import annotations

import dagster as dg
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler


class SlackResource(dg.ConfigurableResource):
    """`bot_token` unset means Slack is off: alerts and reports are recorded as skipped."""

    bot_token: str | None = None
    api_url: str = "https://slack.com/api/"
    alerts_channel: str = "#portal-alerts"
    reports_channel: str = "#portal-analytics"

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token)

    def client(self) -> WebClient:
        client = WebClient(token=self.bot_token, base_url=self.api_url, timeout=15)
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
        return client
