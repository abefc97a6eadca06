"""The report's Slack messages: counts, changes and escaped user-supplied strings."""

from datetime import UTC, date, datetime

from analytics_pipeline.report.model import StageSummary, StageUser
from analytics_pipeline.report.slack_messages import reply_users, stage_header, user_reply

DAY = date(2026, 3, 4)


def test_header_states_the_count_and_its_change_vs_the_day_before():
    summary = StageSummary(stage="active", count=1234, previous=1222, entered_today=5)
    message = stage_header(summary, DAY, "rule", replies=20, pdf_name="x.pdf")
    assert "Active: 1,234 users" in message.text
    assert "▲ 12 vs the day before" in message.text
    section = message.blocks[1]["text"]["text"]
    assert "(was 1,222)" in section and "*5* entered this stage on 2026-03-04" in section


def test_header_says_when_there_is_no_funnel_for_the_day_before():
    summary = StageSummary(stage="inactive", count=3, previous=None, entered_today=0)
    message = stage_header(summary, DAY, "rule", replies=0, pdf_name="x.pdf")
    assert "no funnel for the day before" in message.text


def test_user_reply_escapes_mrkdwn_control_characters_in_user_strings():
    user = StageUser(
        user_id="<!channel> & <@U1>",
        stage="active",
        entered_today=True,
        signed_up_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
        signup_inferred=False,
        last_meaningful_at=None,
        last_seen_at=None,
        meaningful_days=0,
        timeline=("03-01 <custom_action>",),
    )
    message = user_reply(user, DAY)
    everything = message.text + str(message.blocks)
    assert "<!channel>" not in everything and "<@U1>" not in everything
    assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in message.text
    assert "&lt;custom_action&gt;" in str(message.blocks)


def test_at_most_twenty_users_get_a_reply_in_listing_order():
    users = [f"u{n}" for n in range(50)]
    assert reply_users(users) == users[:20]  # type: ignore[arg-type]
