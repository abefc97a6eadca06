"""The traffic simulator (SPEC §8): synthetic portal traffic in the wire format of SPEC §4.

Pure parts, usable from tests and benchmarks without Kafka:
    generate_traffic(users, days, seed, start)   history, ordered by ts, deterministic
    generate_live_traffic(rate, seed, anchor)    endless traffic paced around `anchor`
    encode_stream(events, fraction, seed)        bytes per message, ~fraction malformed
    malform(event, kind, variant)                one invalid message of a SPEC §4 kind
The CLI (`analytics-pipeline simulate`) wires them to Kafka or a JSON-lines file.
"""

from analytics_pipeline.simulate.malformed import MALFORMED_KINDS, Message, encode_stream, malform
from analytics_pipeline.simulate.model import SimEvent
from analytics_pipeline.simulate.personas import PERSONA_WEIGHTS
from analytics_pipeline.simulate.traffic import (
    generate_live_traffic,
    generate_traffic,
    simulate_person,
)

__all__ = [
    "MALFORMED_KINDS",
    "PERSONA_WEIGHTS",
    "Message",
    "SimEvent",
    "encode_stream",
    "generate_live_traffic",
    "generate_traffic",
    "malform",
    "simulate_person",
]
