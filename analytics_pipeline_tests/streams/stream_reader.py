"""Read a stream topic as a `read_committed` consumer does, and apply it as SPEC §10 says."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _strict(text: bytes) -> Any:
    def reject(constant: str) -> Any:
        raise ValueError(f"not strict JSON: {constant}")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate key in {text!r}"
        return dict(pairs)

    return json.loads(text.decode("utf-8"), parse_constant=reject, object_pairs_hook=no_duplicates)


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: str
    value: dict[str, Any]
    headers: dict[str, str]


def read_committed(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[Record]:
    """Every committed record of `topic`, per partition in offset order."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        isolation_level="read_committed",
        enable_auto_commit=False,
        allow_auto_create_topics=False,
    )
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or [])
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list[Record] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"reading {topic} timed out"
            for batch in consumer.poll(timeout_ms=300).values():
                for r in batch:
                    records.append(
                        Record(
                            r.partition,
                            r.offset,
                            r.key.decode(),
                            _strict(r.value),
                            {k: v.decode() for k, v in r.headers},
                        )
                    )
        return records
    finally:
        consumer.close()


def check_format(record: Record) -> None:
    """SPEC §10's conventions for every record."""
    value = record.value
    assert value["schema"] == 1
    if value["kind"] == "action":
        assert TS.match(value["ts"]), value["ts"]
        if value["user_id"] is not None:
            assert record.key == f"user:{value['user_id']}"
        elif value["anonymous_id"] is not None:
            assert record.key == f"anon:{value['anonymous_id']}"
        else:
            assert record.key == f"event:{value['source_event_id']}"
    else:
        assert value["kind"] == "identified"
        assert TS.match(value["linked_at"])
        allowed = {f"anon:{value['anonymous_id']}", f"user:{value['user_id']}"}
        if value["previous_user_id"]:
            allowed.add(f"user:{value['previous_user_id']}")
        assert record.key in allowed


def apply(records: list[Record]) -> set[tuple[str, str, str | None, str, str]]:
    """The journey a consumer rebuilds: (source_topic, event_id, user_id, ts, action), each
    action attributed by its own user_id or by the earliest identified link of its browser."""
    links: dict[str, tuple[str, str, str]] = {}
    for r in records:
        v = r.value
        if v["kind"] == "identified":
            candidate = (v["linked_at"], v["link_event_id"], v["user_id"])
            if v["anonymous_id"] not in links or candidate < links[v["anonymous_id"]]:
                links[v["anonymous_id"]] = candidate
    journey = set()
    for r in records:
        v = r.value
        if v["kind"] != "action":
            continue
        user = v["user_id"] if v["attributed_via"] == "user_id" else None
        if user is None and v["anonymous_id"] in links:
            user = links[v["anonymous_id"]][2]
        journey.add((v["source_topic"], v["source_event_id"], user, v["ts"], v["action"]))
    return journey


def action_ids(records: list[Record]) -> list[tuple[str, str]]:
    return [
        (r.value["source_topic"], r.value["source_event_id"])
        for r in records
        if r.value["kind"] == "action"
    ]


def lake_journey(conn: Any) -> set[tuple[str, str, str | None, str, str]]:
    rows = conn.execute(
        "SELECT source_topic, event_id, user_id, "
        "strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ'), action FROM journey_events"
    ).fetchall()
    return {tuple(row) for row in rows}
