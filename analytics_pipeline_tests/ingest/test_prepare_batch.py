"""Issue 16: prepare_batch does its bookkeeping on Arrow columns; it must decide exactly what
the message-by-message loop it replaced decided (kept here as the reference)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_pipeline.events.strict import strictly_clean
from analytics_pipeline.ingest.writer import RawRecord, prepare_batch


def reference(records, ledger, end_offsets, seq_start):
    """The per-message loop prepare_batch ran before (75d8a2a)."""
    next_offsets = dict(end_offsets or {})
    already, kept = 0, []
    for position, (partition, offset, value) in enumerate(records, start=seq_start):
        if offset >= next_offsets.get(partition, 0):
            next_offsets[partition] = offset + 1
        if offset < ledger.get(partition, 0):
            already += 1
            continue
        kept.append((position, partition, offset, value))
    return already, {p: o for p, o in next_offsets.items() if o > ledger.get(p, 0)}, kept


_values = st.one_of(st.none(), st.just(b""), st.just(b'{"a":1}'), st.binary(max_size=8))
_records = st.lists(
    st.builds(RawRecord, st.integers(0, 3), st.integers(0, 40), _values), max_size=30
)
_offsets = st.dictionaries(st.integers(0, 4), st.integers(0, 45), max_size=5)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    records=_records,
    ledger=_offsets,
    end_offsets=st.one_of(st.none(), _offsets),
    seq_start=st.integers(0, 10**6),
)
def test_prepare_batch_matches_the_per_message_loop(records, ledger, end_offsets, seq_start):
    batch = prepare_batch(
        kind="clickstream",
        topic="t",
        records=records,
        ledger=ledger,
        end_offsets=end_offsets,
        seq_start=seq_start,
    )
    already, next_offsets, kept = reference(records, ledger, end_offsets, seq_start)
    assert batch.result.received == len(records)
    assert batch.result.already_ingested == already
    assert batch.result.next_offsets == next_offsets
    if not kept:
        assert batch.incoming is None
        return
    rows = batch.incoming.to_pylist()
    assert [(r["seq"], r["kafka_partition"], r["kafka_offset"], r["value"]) for r in rows] == kept
    assert [r["clean"] for r in rows] == strictly_clean([value for *_, value in kept])
