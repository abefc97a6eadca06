"""Issue 16: the strict-JSON pre-check (events.strict) changes no verdict, only its cost.

The reference is the validation query with the pre-check off (`precheck=False`): every value
then gets the full strictness checks the query ran before the pre-check existed (regular
expressions and per-object key lists). The fast path must give the very same verdict for
every payload, accepted ones with the same fields and rejected ones with the same dead-letter
reason and detail. Payloads: the fuzz suite's generators (valid events, each rule broken once,
JSON-like text, arbitrary bytes), Hypothesis-built JSON with repeated keys, odd spacing and
escapes, and a list of adversarial cases aimed at the pre-check's own arguments (key counting,
bracket counting, digit runs, escaped NULs). It must also actually be taken: valid events are
proven clean, or the test would pass by never skipping anything.
"""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_pipeline.events.strict import is_strictly_clean
from analytics_pipeline.events.wire import MAX_DEPTH, MAX_NUMBER_DIGITS, Kind
from analytics_pipeline.warehouse.validation import validate_values
from analytics_pipeline_tests.events.test_wire_fuzz import (
    FUZZ,
    NOW,
    arbitrary_bytes,
    event,
    jsonish_text,
    near_valid,
    seeded,
)

KINDS: tuple[Kind, ...] = ("clickstream", "backend")


def assert_same_verdicts(kind: Kind, values: list[bytes | None]) -> None:
    """The fast path's verdicts equal the reference's, value by value."""
    fast = validate_values(kind, values, NOW)
    reference = validate_values(kind, values, NOW, precheck=False)
    for value, got, expected in zip(values, fast, reference, strict=True):
        assert got == expected, (value, got, expected)


def _prefix(kind: Kind) -> str:
    """A valid event of `kind` as compact JSON without its closing brace."""
    body: dict[str, Any] = {"event_id": "e-1", "ts": "2026-11-26T10:00:00.123Z"}
    if kind == "clickstream":
        body |= {"type": "page_view", "anonymous_id": "a-1", "page_url": "/p"}
    else:
        body |= {
            "type": "api_request",
            "request": {"method": "GET", "path": "/", "status": 200, "duration_ms": 1.5},
        }
    return json.dumps(body, separators=(",", ":"))[:-1]


# Each is appended to a valid event's JSON (before its closing brace).
ADVERSARIAL_TAILS = [
    ',"x":1,"x":1',  # a key twice at the top
    ',"\\u0078":1,"x":2',  # the same key, one spelled with an escape
    ',"o":{"k":1,"k":1}',
    ',"o":[{"k":1},{"k":1,"\\u006b":2}]',
    ',"s":"\\":"',  # an escaped quote before a colon inside a string (key count overshoots)
    ',"a\\":b":1',  # ... inside a key
    ',"s":"\\\\":1',  # a string ending in a backslash, then a key's colon? (it is not a key)
    ',"x" :1,"x"\t:\n2',  # spacing before the colons of a repeated key
    ',"x" :1,"y"\r: 2',
    ',"c":"a:b:c","d":"https://x/y"',  # colons in strings, no repeat
    ',"\\u003a":1,":":2',  # an escaped colon as a key, and its repeat
    ',"s":"\\u003a","t":1',
    ',"n":"\\u0000"',
    ',"\\u0000a":1,"\\u0000b":2',  # keys that differ only after an escaped NUL
    ',"\\u0000":1,"\\u0000":2',
    ',"d":' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1),
    ',"d":' + "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    ',"d":' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    ',"s":"' + "[" * 70 + '"',  # brackets in a string: not deep, just not proven
    ',"n":' + "1" * MAX_NUMBER_DIGITS,
    ',"n":' + "1" * (MAX_NUMBER_DIGITS + 1),
    ',"n":-' + "9" * MAX_NUMBER_DIGITS + ".5e3",
    ',"s":"' + "1" * (MAX_NUMBER_DIGITS + 1) + '"',
    ',"n":18446744073709551616,"m":-9223372036854775809',
    ',"n":1e400',
    ',"n":-0.0e-0',
    ',"x":NaN',
    ',"x":-Infinity',
    ',"x":nan',
    ',"x":"NaN Infinity ,] ,}"',
    ',"x":[1,]',
    ',"x":{"a":1,}',
    ',"x":1,',
    ',"x":/*c*/1',
    ",'x':1",
    ',"x":"\\ud800"',
    ',"\\udfff":1',
    ',"x":"\\ud83d\\ude00"',
    ',"x":"\\uD83D\\uDE00","\\uD83D\\uDE00":1',
    ',"x":"\u2028\u2029\ufeff"',
    ',"x":"\\x"',
    ',"x":01',
    ',"x":1.',
    ',"x":.5',
    ',"x":+1',
    ',"x":true,"y":false,"z":null',
    ',"x":tru',
    ',"user_id":"u","user_id":"u"',
    ',"ts":"2026-11-26T10:00:00Z"',  # ts twice (the query reads the first, Python the last)
    ',"type":"click"',
    ',"type":"page_view"',
]
ADVERSARIAL_WHOLE = [
    b"",
    None,
    b" ",
    b"{}",
    b"[]",
    b'"x"',
    b"null",
    b"1",
    b"{} {}",
    b"{}x",
    b"\xef\xbb\xbf{}",
    b'{"a":"\xff"}',
    b'{"a":"\xed\xa0\x80"}',
    b'{"a":"\xc0\x80"}',
    b'{"a":1}\x00',
    b'\x0c{"a":1}',
    b'{"a":1}\n\r\t ',
]


def adversarial(kind: Kind) -> list[bytes | None]:
    prefix = _prefix(kind)
    values: list[bytes | None] = [(prefix + tail + "}").encode() for tail in ADVERSARIAL_TAILS]
    values += [(prefix + "}").encode(), (prefix + "}  ").encode()]
    values += [(prefix + tail + "}").encode("utf-8", "surrogatepass") for tail in ("\ud800",)]
    return values + ADVERSARIAL_WHOLE


def test_adversarial_payloads_get_the_reference_verdicts():
    for kind in KINDS:
        assert_same_verdicts(kind, adversarial(kind))


def test_what_strict_json_forbids_is_never_proven_clean():
    prefix = _prefix("clickstream")
    not_clean = [
        ',"x":1,"x":1',
        ',"\\u0078":1,"x":2',
        ',"o":{"k":1,"k":1}',
        ',"x" :1,"x"\t:\n2',
        ',"\\u003a":1,":":2',
        ',"\\u0000a":1,"\\u0000b":2',
        ',"d":' + "[" * MAX_DEPTH + "]" * MAX_DEPTH,
        ',"n":' + "1" * (MAX_NUMBER_DIGITS + 1),
        ',"x":NaN',
        ',"x":[1,]',
        ',"x":1,',
        ',"x":"\\ud800"',
    ]
    for tail in not_clean:
        assert not is_strictly_clean((prefix + tail + "}").encode()), tail
    for value in ADVERSARIAL_WHOLE:
        assert not is_strictly_clean(value) or value in (b"{}", b'{"a":1}\n\r\t '), value


def test_valid_events_are_proven_clean():
    """Without this the fast path could be dead code and the verdicts would still agree.
    The simulator's events are all proven clean; the fuzz suite's random ones mostly (a
    string starting with a colon, brackets in strings, or an escaped NUL leave them to the
    full checks)."""
    rng = random.Random(16)
    values = [json.dumps(event(rng).body).encode() for _ in range(1000)]
    proven = sum(map(is_strictly_clean, values))
    assert proven >= 0.7 * len(values), proven
    for kind in KINDS:
        assert is_strictly_clean((_prefix(kind) + "}").encode())
        assert is_strictly_clean(
            (_prefix(kind) + ',"s":"a\\\\","c":"a:b","u":"https://x"}').encode()
        )
    assert all(map(is_strictly_clean, simulated_values()))


def simulated_values() -> list[bytes]:
    """Valid simulator traffic, encoded as the simulator writes it to Kafka."""
    from datetime import date

    from analytics_pipeline.simulate.malformed import encode_stream
    from analytics_pipeline.simulate.traffic import generate_traffic

    events = generate_traffic(20, 3, 16, date(2026, 11, 20), until=NOW)
    return [message.value for message in encode_stream(events, 0.0, 16)]


@settings(FUZZ, max_examples=6)
@given(rng=seeded)
def test_fuzz_payloads_get_the_reference_verdicts(rng):
    for kind in KINDS:
        values: list[bytes | None] = []
        for _ in range(150):
            case = near_valid(rng)
            if case.kind == kind:
                values.append(case.value)
            values.append(jsonish_text(rng).encode())
            values.append(arbitrary_bytes(rng))
        assert_same_verdicts(kind, values)


# --- Hypothesis-built JSON: repeated keys, odd spacing, escaped spellings -------------------

_keys = st.sampled_from(["a", "b", ":", '"', "\\", "a:b", "\u0000", "é", "😀", "x y", ""])
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(st.tuples(_keys, children), max_size=4),  # pairs: a key may come twice
    ),
    max_leaves=12,
)


def _render(node: Any, rng: random.Random) -> str:
    """JSON text of `node` (lists of pairs are objects) with random spacing and escapes."""
    space = rng.choice(["", "", " ", "\n", "\t ", "\r\n"])
    if isinstance(node, list) and node and all(isinstance(i, tuple) for i in node):
        items = [_key(key, rng) + space + ":" + space + _render(value, rng) for key, value in node]
        return "{" + ("," + space).join(items) + "}"
    if isinstance(node, list):
        return "[" + ("," + space).join(_render(item, rng) for item in node) + "]"
    return json.dumps(node, ensure_ascii=rng.random() < 0.5)


def _key(key: str, rng: random.Random) -> str:
    if rng.random() < 0.3 and key:
        return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in key) + '"'
    return json.dumps(key, ensure_ascii=rng.random() < 0.5)


@settings(FUZZ, max_examples=8)
@given(nodes=st.lists(st.tuples(_keys, _json), min_size=1, max_size=40), rng=seeded)
def test_generated_json_gets_the_reference_verdicts(nodes, rng):
    for kind in KINDS:
        prefix = _prefix(kind)
        values: list[bytes | None] = []
        for key, node in nodes:
            tail = _render([(key, node)], rng)[1:-1]
            values.append((prefix + "," + tail + "}").encode())
            values.append(_render(node, rng).encode())
        assert_same_verdicts(kind, values)
