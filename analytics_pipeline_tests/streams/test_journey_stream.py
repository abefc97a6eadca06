"""The journey stream on a real broker and a real lake: a scripted week with late events and
late identity links, published batch by batch as the journeys step derives it. Read back with
read_committed, the topic equals journey_events once its `identified` records are applied."""

from __future__ import annotations

from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline_tests.journeys.raw_events import (
    api,
    at,
    code_run,
    deployment,
    identify,
    page_view,
    signup,
    topic_created,
)
from analytics_pipeline_tests.streams.stream_reader import (
    action_ids,
    apply,
    check_format,
    lake_journey,
    read_committed,
)

TOPICS = {"clickstream_topic": "portal-clickstream", "backend_topic": "portal-backend"}


def week() -> list[list[dict]]:
    """Journeys batches of a week; comments say what each one tests."""
    late_signup_run = code_run("u1", at("2026-03-01", 8))
    return [
        [  # a browser before sign-up, its link in the same batch; a request of nobody
            page_view("a1", at("2026-03-01", 9)),
            signup("u1", at("2026-03-01", 10)),
            identify("a1", "u1", at("2026-03-01", 10, 5)),
            api(None, "GET", "/status", 503, at("2026-03-01", 11)),
            page_view("a2", at("2026-03-01", 12)),  # anonymous until batch 3
        ],
        [
            code_run("u1", at("2026-03-02")),
            page_view("a2", at("2026-03-02", 9)),
            signup("u2", at("2026-03-02", 10)),
        ],
        [identify("a2", "u2", at("2026-03-03", 9))],  # a2's earlier views move to u2
        [late_signup_run, topic_created("u2", at("2026-03-04"))],  # late: before u1's others
        # an EARLIER link of a2 arrives late: a2 moves from u2 to u3
        [page_view("a2", at("2026-03-01", 11, 30), user_id="u3"), signup("u3", at("2026-03-05"))],
        [deployment("u1", "started", at("2026-03-06", 9)), page_view("a3", at("2026-03-06"))],
        [deployment("u1", "failed", at("2026-03-07", 9)), identify("a3", "u3", at("2026-03-07"))],
    ]


def test_the_topic_equals_journey_events_after_identified_records(
    conn, raw, publisher, journey_topic, kafka_bootstrap
):
    reports = []
    for index, batch in enumerate(week()):
        raw.add(batch)
        update_journeys(conn, **TOPICS)
        if index != 1:  # batches 2 and 3 go out in one publish
            reports.append(publisher.publish_pending())
    assert all(r.waiting is None and r.caught_up for r in reports), reports

    records = read_committed(kafka_bootstrap, journey_topic)
    for record in records:
        check_format(record)
    ids = action_ids(records)
    assert len(ids) == len(set(ids)), "an action was published twice"
    assert apply(records) == lake_journey(conn)

    late = [r.value for r in records if r.value["kind"] == "action" and r.value["late"]]
    # u1's run older than its published actions; u3's linking view older than a2's views,
    # which the late link (same batch) moves to u3: late within u3's merged journey
    assert sorted((v["user_id"], v["action"], v["ts"]) for v in late) == [
        ("u1", "code_run", "2026-03-01T08:00:00.000000Z"),
        ("u3", "page_viewed", "2026-03-01T11:30:00.000000Z"),
    ]
    nobody = [r for r in records if r.key.startswith("event:")]
    assert [r.value["action"] for r in nobody] == ["api_error"]
    assert nobody[0].value["source_partition"] == 0 and nobody[0].value["details"]["status"] == 503

    relinks = [
        r.value
        for r in records
        if r.value["kind"] == "identified" and r.value["anonymous_id"] == "a2"
    ]
    moved = [v for v in relinks if v["previous_user_id"] == "u2"]
    assert moved and {v["user_id"] for v in moved} == {"u3"}
    keys = {r.key for r in records if r.value in moved}
    assert keys == {"anon:a2", "user:u3", "user:u2"}
    # a2's view before any link went out under its browser's key, once
    assert sum(r.key == "anon:a2" and r.value["kind"] == "action" for r in records) == 1

    # every record names the lake position its publish covers; positions never go back
    for partition in {r.partition for r in records}:
        positions = [
            int(r.headers["analytics-position"]) for r in records if r.partition == partition
        ]
        assert positions == sorted(positions)

    # each key's records of one publish are in event-time order
    for position in {r.headers["analytics-position"] for r in records}:
        for key in {r.key for r in records}:
            times = [
                r.value.get("ts") or r.value["linked_at"]
                for r in records
                if r.key == key and r.headers["analytics-position"] == position
            ]
            assert times == sorted(times), (key, times)
