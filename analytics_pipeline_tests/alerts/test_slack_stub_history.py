"""conversations.history and users.conversations on the stub behave like Slack's, message
metadata included, so the sender's lookup of lost answers is tested against the real shape."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.fixtures.slack import SlackStub

META = {"event_type": "analytics_alert", "event_payload": {"alert_key": "new_signup:u-1"}}


def test_history_lists_top_level_messages_newest_first_with_metadata_on_request(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    client = slack_resource.client()
    first = client.chat_postMessage(channel="#portal-alerts", text="one", metadata=META)
    client.chat_postMessage(channel=first["channel"], text="reply", thread_ts=first["ts"])
    second = client.chat_postMessage(channel="#portal-alerts", text="two")
    client.chat_postMessage(channel="#portal-analytics", text="elsewhere")

    plain = client.conversations_history(channel=first["channel"])
    full = client.conversations_history(channel=first["channel"], include_all_metadata=True)

    assert [m["text"] for m in plain["messages"]] == ["two", "one"]
    assert all("metadata" not in m for m in plain["messages"])
    assert full["messages"][1]["metadata"] == META and full["messages"][1]["ts"] == first["ts"]
    assert "metadata" not in full["messages"][0]
    assert full["has_more"] is False
    after = client.conversations_history(channel=first["channel"], oldest=first["ts"])
    assert [m["ts"] for m in after["messages"]] == [second["ts"]]  # oldest is exclusive
    both = client.conversations_history(
        channel=first["channel"], oldest=first["ts"], inclusive=True
    )
    assert len(both["messages"]) == 2


def test_history_pages_with_limit_and_cursor(slack_resource: SlackResource) -> None:
    client = slack_resource.client()
    channel = ""
    for n in range(5):
        channel = client.chat_postMessage(channel="#portal-alerts", text=f"m{n}")["channel"]
    seen, cursor = [], None
    while True:
        page = client.conversations_history(channel=channel, limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            assert cursor == ""
            break
    assert seen == ["m4", "m3", "m2", "m1", "m0"]


def test_history_takes_a_channel_id_only_like_slack(slack_resource: SlackResource) -> None:
    client = slack_resource.client()
    client.chat_postMessage(channel="#portal-alerts", text="x")
    for wrong in ("#portal-alerts", "portal-alerts", "C0NOSUCH000"):
        with pytest.raises(SlackApiError) as raised:
            client.conversations_history(channel=wrong)
        assert raised.value.response["error"] == "channel_not_found"


def test_users_conversations_lists_the_bots_channels_before_any_post(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    channels = slack_resource.client().users_conversations()["channels"]
    assert {c["name"] for c in channels} == {"portal-alerts", "portal-analytics"}
    assert all(c["id"].startswith("C") and c["is_member"] for c in channels)


def test_post_message_refuses_malformed_metadata(slack_resource: SlackResource) -> None:
    with pytest.raises(SlackApiError) as raised:
        slack_resource.client().chat_postMessage(
            channel="#portal-alerts", text="x", metadata={"event_payload": {}}
        )
    assert raised.value.response["error"] == "invalid_metadata_format"
