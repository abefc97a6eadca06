"""The local Slack stub answers slack_sdk exactly as the product needs, and records what it got."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from analytics_pipeline.resources.slack import SlackResource
from analytics_pipeline_tests.fixtures.slack import SlackStub, start_stub_process


def test_auth_test_accepts_the_bot_token(slack_resource: SlackResource) -> None:
    response = slack_resource.client().auth_test()
    assert response["ok"] is True
    assert response["user_id"]


def test_a_wrong_token_is_refused_with_invalid_auth_and_nothing_is_stored(
    slack_stub: SlackStub,
) -> None:
    for wrong in ("xoxb-wrong", slack_stub.token + "x", "xoxp-" + slack_stub.token[5:]):
        client = WebClient(token=wrong, base_url=slack_stub.api_url)
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel="#portal-alerts", text="hello")
        assert raised.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as raised:
        WebClient(base_url=slack_stub.api_url).auth_test()
    assert raised.value.response["error"] == "not_authed"
    assert slack_stub.messages() == []


def test_the_token_is_checked_before_an_injected_fault_is_played(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    slack_stub.fail("chat.postMessage", [{"status": 500}])
    with pytest.raises(SlackApiError) as raised:
        WebClient(token="xoxb-wrong", base_url=slack_stub.api_url).chat_postMessage(
            channel="#portal-alerts", text="hello"
        )
    assert raised.value.response["error"] == "invalid_auth"  # not the queued 500
    with pytest.raises(SlackApiError) as played:
        slack_resource.client().chat_postMessage(channel="#portal-alerts", text="hello")
    assert played.value.response.status_code == 500  # still queued for the right token


def test_the_stub_will_not_start_without_a_token(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="SLACK_BOT_TOKEN is not set"):
        start_stub_process(tmp_path, token=None)


def test_post_message_stores_text_blocks_and_thread_with_unique_increasing_ts(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    client = slack_resource.client()
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*New sign-up*"}}]
    first = client.chat_postMessage(channel="#portal-alerts", text="New sign-up", blocks=blocks)
    reply = client.chat_postMessage(channel=first["channel"], text="details", thread_ts=first["ts"])
    third = client.chat_postMessage(channel="portal-alerts", text="again")

    assert first["channel"].startswith("C") and first["channel"] == third["channel"]
    assert float(first["ts"]) < float(reply["ts"]) < float(third["ts"])
    stored = slack_stub.messages("#portal-alerts")
    assert [m["text"] for m in stored] == ["New sign-up", "details", "again"]
    assert stored[0]["blocks"] == blocks
    assert stored[1]["thread_ts"] == first["ts"]
    assert stored[0]["channel_name"] == "#portal-alerts"


def test_files_upload_v2_stores_the_bytes_and_shares_them_in_the_thread(
    slack_stub: SlackStub, slack_resource: SlackResource, tmp_path: Path
) -> None:
    client = slack_resource.client()
    parent = client.chat_postMessage(channel="#portal-analytics", text="Stage: active")
    pdf = tmp_path / "active.pdf"
    pdf.write_bytes(b"%PDF-1.7 pretend")

    response = client.files_upload_v2(
        channel=parent["channel"],
        thread_ts=parent["ts"],
        file=str(pdf),
        title="Active users",
        initial_comment="Journeys of active users",
    )

    assert response["file"]["name"] == "active.pdf"
    (stored,) = slack_stub.files()
    assert Path(stored["path"]).read_bytes() == b"%PDF-1.7 pretend"
    assert stored["thread_ts"] == parent["ts"] and stored["completed"] is True
    share = slack_stub.messages("#portal-analytics")[-1]
    assert share["files"] == [stored["id"]]
    assert share["text"] == "Journeys of active users"
    with urllib.request.urlopen(response["file"]["url_private"]) as download:
        assert download.read() == b"%PDF-1.7 pretend"


def test_files_upload_v2_with_a_channel_name_is_refused_like_real_slack(
    slack_resource: SlackResource,
) -> None:
    with pytest.raises(SlackApiError) as raised:
        slack_resource.client().files_upload_v2(
            channel="#portal-analytics", content=b"x", filename="x.pdf"
        )
    assert raised.value.response["error"] == "invalid_arguments"


def test_a_queued_429_is_waited_out_by_slack_sdk_and_the_message_posted_once(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    slack_stub.fail("chat.postMessage", [{"status": 429, "retry_after": 1}])
    started = time.monotonic()
    slack_resource.client().chat_postMessage(channel="#portal-alerts", text="after the limit")
    assert time.monotonic() - started >= 1.0
    assert [c["status"] for c in slack_stub.calls("chat.postMessage")] == [429, 200]
    assert [m["text"] for m in slack_stub.messages()] == ["after the limit"]


def test_queued_500_and_slack_errors_are_answered_in_order_then_calls_succeed(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    client = slack_resource.client()
    slack_stub.fail("chat.postMessage", [{"status": 500}, {"error": "channel_not_found"}])
    with pytest.raises(SlackApiError) as first:
        client.chat_postMessage(channel="#portal-alerts", text="one")
    with pytest.raises(SlackApiError) as second:
        client.chat_postMessage(channel="#portal-alerts", text="two")
    client.chat_postMessage(channel="#portal-alerts", text="three")

    assert first.value.response.status_code == 500
    assert second.value.response["error"] == "channel_not_found"
    assert [m["text"] for m in slack_stub.messages()] == ["three"]


def test_the_page_lists_messages_by_channel_with_thread_replies(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    client = slack_resource.client()
    parent = client.chat_postMessage(channel="#portal-alerts", text="Deployment <failed> & more")
    client.chat_postMessage(channel=parent["channel"], text="a reply", thread_ts=parent["ts"])

    with urllib.request.urlopen(slack_stub.url + "/") as response:
        page = response.read().decode("utf-8")

    assert "#portal-alerts" in page
    assert "Deployment &lt;failed&gt; &amp; more" in page
    assert "1 replies" in page and "a reply" in page
    assert 'http-equiv="refresh"' in page


def test_reset_forgets_messages_files_and_faults(
    slack_stub: SlackStub, slack_resource: SlackResource
) -> None:
    slack_resource.client().chat_postMessage(channel="#portal-alerts", text="old")
    slack_stub.fail("chat.postMessage", [{"status": 500}])
    slack_stub.reset()
    slack_resource.client().chat_postMessage(channel="#portal-alerts", text="new")
    assert [m["text"] for m in slack_stub.messages()] == ["new"]


def test_a_restarted_stub_still_shows_what_it_received(tmp_path: Path) -> None:
    process, url = start_stub_process(tmp_path)
    try:
        WebClient(token="xoxb-test-token", base_url=url + "/api/").chat_postMessage(
            channel="#portal-alerts", text="before restart"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
    process, url = start_stub_process(tmp_path)
    try:
        stub = SlackStub(url=url, token="xoxb-test-token", data_dir=tmp_path)
        assert [m["text"] for m in stub.messages()] == ["before restart"]
        later = WebClient(token="xoxb-test-token", base_url=url + "/api/").chat_postMessage(
            channel="#portal-alerts", text="after restart"
        )
        assert float(later["ts"]) > float(stub.messages()[0]["ts"])
    finally:
        process.terminate()
        process.wait(timeout=10)
