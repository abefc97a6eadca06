"""Slack Web API client as a Dagster resource (owned by the alerts capability).

`bot_token` unset means Slack is off: alerts and reports are recorded as `skipped`. The client
honours HTTP 429 `Retry-After` (up to `max_rate_limit_wait_s` per call; a longer wait is left to
a later run) and retries once a connection that failed before the request was sent. It never
retries by itself once Slack may have the request (a 5xx, a timeout, a connection dropped while
waiting for the answer): Slack may have posted the message already, and only the caller can
check (the alerts sender looks in the channel's history).
"""

from __future__ import annotations

from urllib.error import URLError

import dagster as dg
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from analytics_pipeline.settings import Settings

ENABLE_HINT = (
    "Slack is not configured: set SLACK_BOT_TOKEN (a bot token, xoxb-…) and, for a local or "
    "proxy endpoint, SLACK_API_URL; locally `make run` sets both for the Slack stub."
)


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Waits out HTTP 429 like slack_sdk's handler, unless Retry-After exceeds `max_wait_s`."""

    def __init__(self, max_retry_count: int = 3, max_wait_s: float = 30.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        assert response is not None
        for name, values in (response.headers or {}).items():
            if name.lower() == "retry-after":
                try:
                    return float(values[0]) <= self.max_wait_s
                except (TypeError, ValueError, IndexError):
                    return True
        return True


class SlackResource(dg.ConfigurableResource):
    """`bot_token` unset means Slack is off: alerts and reports are recorded as skipped."""

    bot_token: str | None = Settings.slack_bot_token  # a secret: given as an EnvVar
    api_url: str = Settings.slack_api_url
    alerts_channel: str = Settings.slack_alerts_channel
    reports_channel: str = Settings.slack_reports_channel
    # The client's timeouts and retries: tuning of the client, not settings (no variable).
    timeout_s: int = 15
    max_rate_limit_wait_s: float = 30.0
    max_rate_limit_retries: int = 3

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token)

    def client(
        self, *, timeout_s: int | None = None, max_rate_limit_wait_s: float | None = None
    ) -> WebClient:
        """A WebClient on `api_url` with the bot token and the retry policy above.

        The overrides serve callers that must not block long (the post in the rules' run).
        """
        base_url = self.api_url if self.api_url.endswith("/") else self.api_url + "/"
        client = WebClient(
            token=self.bot_token, base_url=base_url, timeout=timeout_s or self.timeout_s
        )
        wait_s = max_rate_limit_wait_s
        if wait_s is None:
            wait_s = self.max_rate_limit_wait_s
        # urllib raises URLError only while connecting or sending; a timeout or a dropped
        # connection while reading the answer comes raw (TimeoutError, RemoteDisconnected,
        # ConnectionResetError) and is not retried: the request may have been carried out.
        handlers: list[RetryHandler] = [
            ConnectionErrorRetryHandler(max_retry_count=1, error_types=[URLError]),
            BoundedRateLimitRetryHandler(
                max_retry_count=self.max_rate_limit_retries, max_wait_s=wait_s
            ),
        ]
        client.retry_handlers = handlers
        return client
