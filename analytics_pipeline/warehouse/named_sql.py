"""Read `.sql` files that hold several named statements, and run them with named parameters.

A file is split at lines `-- name: <statement>`; each statement is run on its own. Values
always travel as DuckDB parameters (`$name`), never as formatted text: `run` passes each
statement exactly the parameters it mentions outside `--` comments, so one dict can serve a
whole file. (Keep `--` out of string literals.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import duckdb

_NAME_LINE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")
_LINE_COMMENT = re.compile(r"--[^\n]*")


@cache
def load_statements(filename: str) -> Mapping[str, str]:
    """The named statements of `filename`, in file order: `package:name.sql` for a file beside
    a capability's code (e.g. `analytics_pipeline.journeys:journeys.sql`), a bare name for one
    in analytics_pipeline/warehouse."""
    package, _, name = filename.rpartition(":")
    text = (resources.files(package or "analytics_pipeline.warehouse") / name).read_text("utf-8")
    parts = _NAME_LINE.split(text)
    statements: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in statements:
            raise ValueError(f"{filename}: statement {name!r} is defined twice")
        statements[name] = body.strip().rstrip(";")
    return statements


def run(
    conn: duckdb.DuckDBPyConnection, filename: str, name: str, params: Mapping[str, Any]
) -> duckdb.DuckDBPyConnection:
    """Execute statement `name` of `filename` with the subset of `params` it uses."""
    return execute(conn, load_statements(filename)[name], params, label=f"{filename}:{name}")


def execute(
    conn: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any], *, label: str = "SQL"
) -> duckdb.DuckDBPyConnection:
    """Execute `sql` with the subset of `params` it mentions outside `--` comments."""
    wanted = dict.fromkeys(_PARAMETER.findall(_LINE_COMMENT.sub("", sql)))
    missing = [key for key in wanted if key not in params]
    if missing:
        raise KeyError(f"{label} needs parameters {missing}")
    return conn.execute(sql, {key: params[key] for key in wanted} if wanted else None)
