"""A fast, one-sided pre-check of SPEC §4's strict-JSON rules, in C (msgspec), per message.

The validation query (`events.wire`) enforces strict RFC 8259 on top of DuckDB's lenient
reader with regular expressions and per-object key lists; on the bench topics that was over
half of the ingest writer's time. Nearly every real message is clean, so this proves it for
most of them up front, and the query skips those expensive checks for the messages proven
clean. `strictly_clean` is only ever trusted when it says True: True means the value is one
strict JSON object (no trailing comma, `NaN`/`Infinity`, comment, lone surrogate, invalid
UTF-8 or trailing data: msgspec's reader refuses them all), with no key twice in any object,
nesting at most `MAX_DEPTH` deep and no run of over `MAX_NUMBER_DIGITS` digits. False only
means "not proven": such a message gets the query's full checks, exactly as before, so the
accept/reject decision and the dead-letter reason never depend on this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec

from analytics_pipeline.events.wire import MAX_DEPTH, MAX_NUMBER_DIGITS, MAX_VALUE_BYTES

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
# Every key in JSON text is a string literal followed by optional whitespace and a colon; a
# match can also be an escaped quote inside a string, so this counts keys or more, never fewer.
_KEY_END = re.compile(rb'"[ \t\n\r]*:')
_LONG_NUMBER = re.compile(rb"[0-9]{%d}" % (MAX_NUMBER_DIGITS + 1))


def _keys_below(values: Iterable[Any]) -> int:
    """Keys in every object among `values` and below them, as parsed (a repeated key counts
    once)."""
    count = 0
    for value in values:
        kind = type(value)
        if kind is dict:
            count += len(value) + _keys_below(value.values())
        elif kind is list:
            count += _keys_below(value)
    return count


def is_strictly_clean(value: bytes | None) -> bool:
    """True only if `value` is proven to be one strict-JSON object that breaks none of the
    strictness rules above (see the module docstring); False when not proven."""
    if not value or len(value) > MAX_VALUE_BYTES:
        return False
    # Brackets counted inside strings too: at most MAX_DEPTH of them cannot nest deeper.
    if value.count(b"[") + value.count(b"{") > MAX_DEPTH:
        return False
    if len(value) > MAX_NUMBER_DIGITS and _LONG_NUMBER.search(value):
        return False
    # An escaped NUL: whether DuckDB's strings compare keys past it is not this module's to
    # prove, so such a value (never seen in practice) gets the full checks.
    if b"\\u0000" in value:
        return False
    try:
        parsed = _decode(value)
    except (msgspec.DecodeError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    if type(parsed) is not dict:
        return False
    # No key twice in any object: (1) compact text as producers write it is exactly the
    # encoding of what was parsed, whose objects cannot hold a key twice; (2) otherwise, a key
    # twice leaves fewer parsed keys than keys in the text, and the text's count is an upper
    # bound, so equality proves it. (1) costs a third of (2).
    if _encode(parsed) == value:
        return True
    return len(parsed) + _keys_below(parsed.values()) == len(_KEY_END.findall(value))


def strictly_clean(values: Iterable[bytes | None]) -> list[bool]:
    """`is_strictly_clean` of each value, in order (a whole batch in one call)."""
    return [is_strictly_clean(value) for value in values]
