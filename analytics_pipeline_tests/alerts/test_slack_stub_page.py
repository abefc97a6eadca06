"""The stub's page shows messages as Slack would: bold, code, links and emoji as formatting,
Slack's entities as the characters they stand for, and user content never as page markup."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime

from analytics_pipeline.alerts.messages import render
from analytics_pipeline.alerts.model import OutboxAlert
from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.fixtures.slack import SlackStub

T0 = datetime(2026, 11, 26, 10, 4, 5, tzinfo=UTC)


def page(slack_stub: SlackStub) -> str:
    with urllib.request.urlopen(slack_stub.url + "/", timeout=10) as response:
        assert response.headers.get_content_type() == "text/html"
        return response.read().decode("utf-8")


def post(slack_resource: SlackResource, alert: OutboxAlert) -> None:
    message = render(alert)
    slack_resource.client().chat_postMessage(
        channel="#portal-alerts", text=message.text, blocks=message.blocks
    )


def test_an_alert_shows_bold_code_and_emoji_and_entities_as_characters(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    post(
        slack_resource,
        OutboxAlert(
            "api_errors:user-7:2026-11-26T10",
            "api_errors",
            "user-7",
            T0,
            {"count": 3, "window_minutes": 5, "requests": ["POST /projects -> 503", "a & b"]},
        ),
    )

    html = page(slack_stub)

    assert "⚠️ <strong>Repeated API errors</strong>" in html
    assert "<strong>User</strong>" in html and "<code>user-7</code>" in html
    # Slack shows `->` and `&`; in HTML that is one level of escaping, never two.
    assert "<code>POST /projects -&gt; 503</code>" in html and "<code>a &amp; b</code>" in html
    assert "&amp;gt;" not in html and "&amp;amp;" not in html
    assert "*Repeated API errors*" not in html and "`user-7`" not in html  # no raw mrkdwn


def test_links_and_mentions_render_and_unsafe_links_stay_text(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    slack_resource.client().chat_postMessage(
        channel="#portal-alerts",
        text=(
            "see <https://example.com/runs?a=1&amp;b=2|the *runs*> and <https://example.org>, "
            "_not_ <javascript:alert(1)|this>, ~old~ <@U123> <!here>\n```a <b>\n*c*```"
        ),
    )

    html = page(slack_stub)

    assert '<a href="https://example.com/runs?a=1&amp;b=2" rel="noopener noreferrer">' in html
    assert '<a href="https://example.org" rel="noopener noreferrer">https://example.org</a>' in html
    assert "javascript:" not in re.sub(r"&lt;javascript:alert\(1\)\|this&gt;", "", html)
    assert "<em>not</em>" in html and "<del>old</del>" in html
    assert '<span class="mention">@U123</span>' in html
    assert '<span class="mention">@here</span>' in html
    assert '<pre class="code">a &lt;b&gt;\n*c*</pre>' in html  # no formatting inside code


def test_user_content_never_becomes_markup_on_the_page(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> *b* `c` &lt;'
    post(
        slack_resource,
        OutboxAlert(
            "deployment_failed:d-1",
            "deployment_failed",
            hostile,
            T0,
            {"deployment_id": hostile, "error_message": hostile},
        ),
    )
    # A raw post too, not escaped for Slack by anyone.
    slack_resource.client().chat_postMessage(channel="#portal-alerts", text=hostile)

    html = page(slack_stub)

    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    # The alert's user strings stay inside their code spans: no bold from `*b*`.
    assert "<strong>b</strong>" not in html.split("</section>")[0].split("Deployment failed")[1]
