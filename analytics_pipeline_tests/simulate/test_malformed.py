"""Malformed messages: every invalid kind of SPEC §4, rejected by ingestion for that reason."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from analytics_pipeline.events.wire import MAX_VALUE_BYTES, Reason
from analytics_pipeline.simulate.malformed import MALFORMED_KINDS, encode_stream, malform
from analytics_pipeline.simulate.model import SimEvent
from analytics_pipeline_tests.simulate.ingest_check import ingest_reasons

NOW = datetime(2026, 10, 16, tzinfo=UTC)  # the day after the sample's window ends


def test_the_malformer_knows_every_dead_letter_reason() -> None:
    assert set(MALFORMED_KINDS) == {reason.value for reason in Reason}


def test_about_the_requested_fraction_is_malformed(history_sample: list[SimEvent]) -> None:
    messages = list(encode_stream(history_sample, 0.1, seed=3))
    share = sum(m.malformed is not None for m in messages) / len(messages)
    assert len(messages) == len(history_sample)
    assert 0.09 <= share <= 0.11


def test_no_fraction_means_no_malformed_messages(history_sample: list[SimEvent]) -> None:
    assert all(m.malformed is None for m in encode_stream(history_sample, 0.0, seed=3))


def test_every_kind_appears_and_ingestion_rejects_each_for_that_reason(
    history_sample: list[SimEvent],
) -> None:
    messages = list(encode_stream(history_sample, 0.02, seed=3))
    malformed = Counter(m.malformed for m in messages if m.malformed)
    assert malformed.keys() == set(MALFORMED_KINDS)
    for kind in ("clickstream", "backend"):
        ours = [m for m in messages if m.kind == kind]
        reasons = ingest_reasons(kind, [m.value for m in ours], NOW)
        # Valid messages are stored; each malformed one is dead-lettered for its own kind.
        wrong = [
            (m.malformed, reason, m.value[:200])
            for m, reason in zip(ours, reasons, strict=True)
            if reason != m.malformed
        ]
        assert wrong == []


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_kind_breaks_every_event_type_in_every_variant(
    history_sample: list[SimEvent], kind: str
) -> None:
    one_per_type = {e.value["type"]: e for e in history_sample}
    assert len(one_per_type) == 7
    for topic_kind in ("clickstream", "backend"):
        events = [e for e in one_per_type.values() if e.kind == topic_kind]
        raws = [malform(event, kind, variant) for event in events for variant in range(6)]
        reasons = ingest_reasons(topic_kind, raws, NOW)
        assert [(r, raw[:200]) for r, raw in zip(reasons, raws, strict=True) if r != kind] == []


def test_too_large_values_are_just_over_one_mebibyte(history_sample: list[SimEvent]) -> None:
    raw = malform(history_sample[0], "too_large")
    assert MAX_VALUE_BYTES < len(raw) <= MAX_VALUE_BYTES + 1024


def test_malformed_messages_are_deterministic_by_seed(history_sample: list[SimEvent]) -> None:
    sample = history_sample[:5000]
    first = [(m.malformed, m.value) for m in encode_stream(sample, 0.05, seed=3)]
    again = [(m.malformed, m.value) for m in encode_stream(sample, 0.05, seed=3)]
    other = [(m.malformed, m.value) for m in encode_stream(sample, 0.05, seed=4)]
    assert first == again
    assert first != other


def test_valid_messages_are_the_same_with_or_without_malformed_ones(
    history_sample: list[SimEvent],
) -> None:
    """Replacing messages draws no randomness from the journeys: the rest stays identical."""
    sample = history_sample[:5000]
    clean = list(encode_stream(sample, 0.0, seed=3))
    mixed = list(encode_stream(sample, 0.2, seed=3))
    assert len(clean) == len(mixed)
    for before, after in zip(clean, mixed, strict=True):
        assert (after.kind, after.key, after.ts) == (before.kind, before.key, before.ts)
        if after.malformed is None:
            assert after.value == before.value
