"""`analytics-pipeline sql`: ad hoc SQL on the live lake, read-only.

A query prints a table (or `--format csv|json` for scripts); without one, an interactive
prompt (readline: history and line editing) runs statements ending in `;`. Only statements
that read are run: anything else is refused before it reaches DuckDB, and the lake is
attached READ_ONLY besides.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TextIO
from uuid import UUID

import duckdb

from analytics_pipeline.dashboard.lakestate import NOT_CREATED_MESSAGE, not_created_yet
from analytics_pipeline.settings import ConfigError, load_settings
from analytics_pipeline.warehouse import Lake, LakeUnavailableError, reading

PROG = "analytics-pipeline sql"
FORMATS = ("table", "csv", "json")
READING = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN, duckdb.StatementType.SET}
PROMPT, CONTINUATION = "lake> ", "  ..> "


class RefusedError(ValueError):
    """A statement that would change something: this command only reads."""


class Result:
    """Column names, DuckDB type names and rows of one query."""

    def __init__(self, columns: list[str], types: list[str], rows: list[tuple[Any, ...]]):
        self.columns, self.types, self.rows = columns, types, rows


def check_read_only(conn: duckdb.DuckDBPyConnection, text: str) -> None:
    """Raise RefusedError unless every statement of `text` only reads."""
    for statement in conn.extract_statements(text):
        if statement.type not in READING:
            kind = statement.type.name.replace("_", " ")
            raise RefusedError(
                f"refused: {kind} statements change data or the session's files, and "
                "`analytics-pipeline sql` is read-only on the lake (SELECT, WITH, FROM, SHOW, "
                "DESCRIBE, SUMMARIZE, EXPLAIN and SET are allowed). Data is written by the "
                "pipeline's assets in Dagster."
            )


def execute(conn: duckdb.DuckDBPyConnection, text: str) -> Result | None:
    """Run `text` (one or more read statements); the last statement's result, if it has one."""
    check_read_only(conn, text)
    result: Result | None = None
    for statement in conn.extract_statements(text):
        try:
            conn.execute(statement)
        except duckdb.Error as error:
            if "read-only" in str(error).lower() or "read only" in str(error).lower():
                raise RefusedError(
                    "refused: the lake is attached read-only here; "
                    f"DuckDB said: {str(error).splitlines()[0]}"
                ) from None
            raise
        if conn.description is None:
            result = None
            continue
        columns = [column[0] for column in conn.description]
        types = [str(column[1]) for column in conn.description]
        result = Result(columns, types, conn.fetchall())
    return result


# --- output ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    return str(value).replace("\r", "\\r").replace("\n", "\\n")


def _numeric(type_name: str) -> bool:
    name = type_name.upper()
    return any(word in name for word in ("INT", "DECIMAL", "DOUBLE", "FLOAT", "REAL", "NUMERIC"))


def format_table(result: Result) -> str:
    """psql-like: a header, a rule, aligned cells (numbers right), and the row count."""
    cells = [[_text(value) for value in row] for row in result.rows]
    widths = [
        max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(result.columns)
    ]
    numeric = [_numeric(type_name) for type_name in result.types]

    def line(values: Sequence[str], header: bool = False) -> str:
        parts = [
            value.rjust(width) if is_number and not header else value.ljust(width)
            for value, width, is_number in zip(values, widths, numeric, strict=True)
        ]
        return " | ".join(parts).rstrip()

    count = len(result.rows)
    lines = [
        line(result.columns, header=True),
        "-+-".join("-" * width for width in widths),
        *(line(row) for row in cells),
        f"({count} row{'' if count == 1 else 's'})",
    ]
    return "\n".join(lines) + "\n"


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    return _text(value) if not isinstance(value, int | float | Decimal) else value


def format_csv(result: Result) -> str:
    """RFC 4180 CSV with a header row; NULL is an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_csv_value(value) for value in row])
    return out.getvalue()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def format_json(result: Result) -> str:
    """A JSON array of one object per row; JSON columns as JSON, BLOBs as base64."""
    json_columns = {i for i, type_name in enumerate(result.types) if type_name.upper() == "JSON"}
    objects = []
    for row in result.rows:
        item = {}
        for i, (name, value) in enumerate(zip(result.columns, row, strict=True)):
            if i in json_columns and isinstance(value, str):
                value = json.loads(value)
            item[name] = value
        objects.append(item)
    return json.dumps(objects, default=_json_default, ensure_ascii=False, indent=2) + "\n"


FORMATTERS = {"table": format_table, "csv": format_csv, "json": format_json}


# --- the command -----------------------------------------------------------------------------


def _run_one(conn: duckdb.DuckDBPyConnection, text: str, fmt: str, out: TextIO) -> None:
    result = execute(conn, text)
    if result is not None:
        out.write(FORMATTERS[fmt](result))


def interactive(conn: duckdb.DuckDBPyConnection, fmt: str, lake: Lake) -> int:
    """A prompt: statements end with `;`, `.quit` or Ctrl-D leaves, errors do not."""
    with contextlib.suppress(ImportError):  # line editing and history for input()
        import readline  # noqa: F401
    print(
        f"Read-only SQL on the lake ({lake.description}). End statements with ';'. "
        "Tables: SHOW TABLES; leave with .quit or Ctrl-D."
    )
    buffer: list[str] = []
    while True:
        try:
            line = input(CONTINUATION if buffer else PROMPT)
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            buffer.clear()
            continue
        if not buffer and line.strip() in (".quit", ".exit", "\\q", "quit", "exit"):
            return 0
        buffer.append(line)
        text = "\n".join(buffer).strip()
        if not text:
            buffer.clear()
            continue
        if not text.endswith(";"):
            continue
        buffer.clear()
        try:
            _run_one(conn, text, fmt, sys.stdout)
        except (RefusedError, duckdb.Error) as error:
            print(f"error: {str(error).strip()}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        if args.query is not None:
            with duckdb.connect() as parser:  # refuse a write before attaching anything
                check_read_only(parser, args.query)
        lake = Lake.from_settings(load_settings())
        with reading(lake) as conn:
            if args.query is None:
                return interactive(conn, args.format, lake)
            _run_one(conn, args.query, args.format, sys.stdout)
        return 0
    except RefusedError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    except LakeUnavailableError as error:
        message = NOT_CREATED_MESSAGE if not_created_yet(error) else str(error)
        print(f"{PROG}: {message}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except duckdb.Error as error:
        print(f"{PROG}: {str(error).strip()}", file=sys.stderr)
        return 1


def register(subparsers: Any) -> None:
    """Add the `sql` subcommand to the `analytics-pipeline` parser."""
    parser = subparsers.add_parser(
        "sql",
        help="ad hoc SQL on the live lake, read-only",
        description=(
            "Run a read-only query on the lake (DuckDB SQL; tables unqualified, e.g. "
            "SELECT * FROM funnel_daily) and print the result; without a query, an "
            "interactive prompt."
        ),
    )
    parser.add_argument("query", nargs="?", help="the SQL to run (omit for a prompt)")
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="output format (default table)"
    )
    parser.set_defaults(handler=run)
