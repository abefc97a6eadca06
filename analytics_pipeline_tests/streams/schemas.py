"""Validate stream records (SPEC §10) against the JSON Schemas the project ships in docs/streams/.

Tests that read the journey or stage topic call `validate_record` on every record, so a record
that drifts from the published contract fails the test that saw it, with every problem named.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "streams"

# Record kind -> its schema file in docs/streams/.
SCHEMA_FILES = {
    "action": "journey-action.schema.json",
    "identified": "journey-identified.schema.json",
    "stage": "stage.schema.json",
}


class RecordInvalid(ValueError):
    """A stream record that its kind's JSON Schema rejects; the message lists every problem."""


def _is_date_time(value: object) -> bool:
    # The schema's pattern fixes the shape; this catches what a pattern cannot (30 February).
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    # Our own checks: jsonschema's date-time check silently passes without an optional package.
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_date_time)
    checker.checks("date")(_is_date)
    return checker


@cache
def validator_for(kind: str) -> Draft202012Validator:
    """The validator of one record kind (`action`, `identified`, `stage`)."""
    schema = json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_format_checker())


def validate_record(record: dict[str, Any]) -> None:
    """Raise RecordInvalid unless `record` is valid against its kind's schema."""
    if not isinstance(record, dict):
        raise RecordInvalid(f"a stream record is a JSON object, not {type(record).__name__}")
    kind = record.get("kind")
    if kind not in SCHEMA_FILES:
        raise RecordInvalid(
            f"unknown record kind {kind!r} (known: {', '.join(SCHEMA_FILES)}) in {record!r}"
        )
    errors = sorted(
        validator_for(kind).iter_errors(record),
        key=lambda error: [str(part) for part in error.absolute_path],
    )
    if errors:
        problems = "\n".join(
            f"  - {'/'.join(map(str, error.absolute_path)) or '(record)'}: {error.message}"
            for error in errors
        )
        raise RecordInvalid(
            f"{kind} record does not match docs/streams/{SCHEMA_FILES[kind]}:\n"
            f"{problems}\nrecord: {record!r}"
        )
