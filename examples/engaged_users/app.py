"""The engaged-users service: a Quix Streams application on the journey stream.

It reads the journey topic exactly as SPEC §10 promises it (read_committed, event time from
`ts`), gives every counted action to its user (identity links included, journeys.py), counts
each user's actions in a sliding one-hour window, and flags a user who reaches the threshold:
to an output topic, and on stdout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from quixstreams import Application
from quixstreams.kafka.configuration import ConnectionConfig

from examples.engaged_users.journeys import (
    MEANINGFUL_ACTIONS,
    attribute,
    engagement_flag,
    event_time_ms,
    parse_utc_ms,
)


@dataclass(frozen=True)
class Config:
    """What the service reads from the environment (SPEC §2 names where they exist)."""

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    journey_topic: str = "portal-journeys"
    output_topic: str = "portal-engaged-users"
    consumer_group: str = "engaged-users"
    threshold: int = 5
    window_minutes: int = 60
    grace_minutes: int = 15
    counted_actions: frozenset[str] = MEANINGFUL_ACTIONS
    state_dir: str = "data/examples/engaged_users/state"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Config:
        def text(name: str, default: str) -> str:
            return env.get(name) or default

        def number(name: str, default: int) -> int:
            value = int(text(name, str(default)))
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
            return value

        actions = text("ENGAGED_ACTIONS", ",".join(sorted(MEANINGFUL_ACTIONS)))
        return cls(
            bootstrap_servers=text("KAFKA_BOOTSTRAP_SERVERS", cls.bootstrap_servers),
            security_protocol=env.get("KAFKA_SECURITY_PROTOCOL") or None,
            sasl_mechanism=env.get("KAFKA_SASL_MECHANISM") or None,
            sasl_username=env.get("KAFKA_SASL_USERNAME") or None,
            sasl_password=env.get("KAFKA_SASL_PASSWORD") or None,
            journey_topic=text("ANALYTICS_JOURNEY_TOPIC", cls.journey_topic),
            output_topic=text("ENGAGED_OUTPUT_TOPIC", cls.output_topic),
            consumer_group=text("ENGAGED_CONSUMER_GROUP", cls.consumer_group),
            threshold=number("ENGAGED_THRESHOLD", cls.threshold),
            window_minutes=number("ENGAGED_WINDOW_MINUTES", cls.window_minutes),
            grace_minutes=int(text("ENGAGED_GRACE_MINUTES", str(cls.grace_minutes))),
            counted_actions=frozenset(a.strip() for a in actions.split(",") if a.strip()),
            state_dir=text("ENGAGED_STATE_DIR", cls.state_dir),
        )

    def connection(self) -> ConnectionConfig:
        """Broker settings; the SASL ones only when set (the local stack needs none)."""
        settings: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers}
        if self.security_protocol:
            settings["security_protocol"] = self.security_protocol.lower()
        if self.sasl_mechanism:
            settings["sasl_mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            settings["sasl_username"] = self.sasl_username
        if self.sasl_password:
            settings["sasl_password"] = self.sasl_password
        return ConnectionConfig(**settings)


def print_flag(flag: dict[str, Any]) -> None:
    """One JSON line per flag on stdout (Quix's own logs go to stderr)."""
    print(json.dumps(flag, sort_keys=True), flush=True)


def build(config: Config) -> Application:
    """The Quix application with its dataframe registered; `app.run()` starts it."""
    app = Application(
        broker_address=config.connection(),
        consumer_group=config.consumer_group,
        # A new service starts with the stream's history (the topic keeps a week by default).
        auto_offset_reset="earliest",
        # Only what the pipeline committed (SPEC §10's exactly-once promise is for these
        # readers), and this service's own flags and offsets commit together.
        consumer_extra_config={"isolation.level": "read_committed"},
        processing_guarantee="exactly-once",
        commit_interval=1.0,
        state_dir=config.state_dir,
    )
    journeys = app.topic(
        config.journey_topic,
        key_deserializer="str",
        value_deserializer="json",
        timestamp_extractor=event_time_ms,
    )
    flags = app.topic(config.output_topic, key_serializer="str", value_serializer="json")

    def to_users(
        record: Any, key: str, timestamp: int, headers: Any, state: Any
    ) -> list[dict[str, Any]]:
        return attribute(record, key, state, config.counted_actions)

    def flag(
        window: dict[str, Any], key: str, timestamp: int, headers: Any, state: Any
    ) -> dict[str, Any] | None:
        return engagement_flag(window, key, state, config.threshold)

    sdf = app.dataframe(journeys)
    # State keyed by the journey key: an anonymous browser's actions wait there for its link.
    sdf = sdf.apply(to_users, stateful=True, metadata=True, expand=True)
    # An action released by a later link keeps its own event time, not the link's.
    sdf = sdf.set_timestamp(lambda action, key, timestamp, headers: parse_utc_ms(action["ts"]))
    sdf = sdf.group_by(lambda action: f"user:{action['user_id']}", name="user")
    sdf = (
        sdf.sliding_window(
            duration_ms=timedelta(minutes=config.window_minutes),
            grace_ms=timedelta(minutes=config.grace_minutes),
        )
        .count()
        .current()
    )
    sdf = sdf.apply(flag, stateful=True, metadata=True)
    sdf = sdf.filter(lambda value: value is not None)
    sdf = sdf.to_topic(flags, key=lambda value: f"user:{value['user_id']}")
    sdf.update(print_flag)
    return app


def main() -> None:
    """Run the service until Ctrl-C or SIGTERM."""
    build(Config.from_env()).run()
