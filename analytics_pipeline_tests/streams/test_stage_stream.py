"""The stage stream on a real broker and lake: a funnel run publishes each user's stage
changes once; recomputing days that did not change publishes nothing; a late event publishes
exactly the changed (user, day) records, withdrawing a day that stopped being a change."""

from __future__ import annotations

from datetime import date

from analytics_pipeline.defs.streams.stages import stage_publisher
from analytics_pipeline.funnel.stages import compute_stages
from analytics_pipeline.journeys.derive import update_journeys
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.streams.stage_lake import queue_changes
from analytics_pipeline_tests.journeys.raw_events import at, code_run, signup
from analytics_pipeline_tests.streams.stream_reader import read_committed

TOPICS = {"clickstream_topic": "portal-clickstream", "backend_topic": "portal-backend"}
D1, D5 = date(2026, 3, 1), date(2026, 3, 5)


def funnel_run(conn, publisher, first: date, last: date) -> tuple[int, int]:
    compute_stages(conn, first, last, inactive_after_days=15)
    queued = queue_changes(conn, first, last)
    report = publisher.publish_pending()
    assert report.waiting is None and report.caught_up, report
    return queued, report.records


def as_tuples(records) -> list[tuple]:
    out = []
    for r in records:
        v = r.value
        assert (v["schema"], v["kind"], r.key) == (1, "stage", f"user:{v['user_id']}")
        out.append((v["user_id"], v["day"], v["stage"], v["previous_stage"], v["changed"]))
    return sorted(out)


def test_stage_changes_are_published_once_and_only_when_they_change(
    conn, raw, make_topic, kafka_bootstrap
):
    topic = make_topic(3, suffix="stages")
    publisher = stage_publisher(
        KafkaResource(bootstrap_servers=kafka_bootstrap, stage_topic=topic), conn
    )
    raw.add(
        signup("u1", at("2026-03-01")),
        code_run("u1", at("2026-03-02")),
        code_run("u1", at("2026-03-04")),
        signup("u2", at("2026-03-01")),
    )
    update_journeys(conn, **TOPICS)
    try:
        assert funnel_run(conn, publisher, D1, D5) == (4, 4)
        first = as_tuples(read_committed(kafka_bootstrap, topic))
        assert first == [
            ("u1", "2026-03-01", "signed_up", None, True),
            ("u1", "2026-03-02", "activated", "signed_up", True),
            ("u1", "2026-03-04", "active", "activated", True),
            ("u2", "2026-03-01", "signed_up", None, True),
        ]

        publisher.close()  # the next funnel run's publisher
        assert funnel_run(conn, publisher, D1, D5) == (0, 0)  # a backfill of unchanged days

        raw.add(code_run("u2", at("2026-03-03")), code_run("u1", at("2026-03-03")))
        update_journeys(conn, **TOPICS)
        assert funnel_run(conn, publisher, date(2026, 3, 3), D5) == (3, 3)
    finally:
        publisher.close()
    records = as_tuples(read_committed(kafka_bootstrap, topic))
    assert sorted(set(records) - set(first)) == [
        ("u1", "2026-03-03", "active", "activated", True),
        ("u1", "2026-03-04", "active", "active", False),  # no longer a change: withdrawn
        ("u2", "2026-03-03", "activated", "signed_up", True),
    ]
    assert len(records) == 7
