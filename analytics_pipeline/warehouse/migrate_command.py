"""`analytics-pipeline migrate`: bring the lake to this release's schema version now, instead
of at the pipeline's first run; `--check` says what that would run and changes nothing.

Exit codes: 0 done (or, with --check, nothing to run); 1 with --check: migrations to run, and
without: a migration failed (the lake stays at the last version that committed whole); 2 the
lake cannot be opened, is newer than this release, or the configuration is invalid.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import duckdb

from analytics_pipeline.settings import ConfigError, load_settings
from analytics_pipeline.warehouse.catalog_db import (
    MigrationLockTimeoutError,
    is_postgres,
    lake_exists,
)
from analytics_pipeline.warehouse.connection import connect
from analytics_pipeline.warehouse.lake import Lake, LakeUnavailableError, open_cursor
from analytics_pipeline.warehouse.schema_version import (
    Migration,
    load_migrations,
    pending,
    read_version,
    refuse_newer,
    upgrade,
)

PROG = "analytics-pipeline migrate"


def _parts(migration: Migration) -> str:
    return " + ".join(
        part for part, present in (("DDL", migration.sql), ("data move", migration.code)) if present
    )


def check(lake: Lake, out: TextIO) -> int:
    """Print what `migrate` would run on `lake`: 0 when nothing, 1 when something."""
    migrations = load_migrations()
    latest = migrations[-1]
    if is_postgres(lake) and not lake_exists(lake):
        out.write(
            f"The lake ({lake.description}) does not exist yet. `{PROG}` (or the pipeline's "
            f"first run) would create it at schema version {latest.version} ({latest.name}), "
            f"running {', '.join(m.name for m in migrations)}.\n"
        )
        return 1
    conn = open_cursor(lake, read_only=True)
    try:
        current = read_version(conn, lake, migrations, read_only=True)
    finally:
        conn.close()
    refuse_newer(lake, current, migrations, writing=True)
    todo = pending(current, migrations)
    if not todo:
        out.write(
            f"The lake ({lake.description}) is at schema version {current.version} "
            f"({current.name}), the latest this release knows: nothing to run.\n"
        )
        return 0
    out.write(
        f"The lake ({lake.description}) is at schema {current.describe()}; this release's "
        f"latest is version {latest.version} ({latest.name}). `{PROG}` would run:\n"
    )
    for migration in todo:
        again = (
            " (again, to record the version: it only creates what is missing)"
            if migration.version == 1 and current.version == 1
            else ""
        )
        out.write(f"  {migration.name}: {_parts(migration)}{again}\n")
    return 1


def migrate(lake: Lake, out: TextIO) -> int:
    """Migrate `lake` (waiting for any other migrator), then prepare it for writers."""
    conn = open_cursor(lake)
    try:
        before = read_version(conn, lake, load_migrations())
        applied = upgrade(
            conn,
            lake,
            on_applied=lambda m, s: out.write(f"applied {m.name} in {s:.2f} s\n"),
        )
    finally:
        conn.close()
    connect(lake).close()  # what every writer checks first: the key tables, catalog indexes
    latest = load_migrations()[-1]
    if applied:
        out.write(
            f"The lake ({lake.description}) went from schema {before.describe()} to version "
            f"{latest.version} ({latest.name}).\n"
        )
    else:
        out.write(
            f"The lake ({lake.description}) is at schema version {latest.version} "
            f"({latest.name}) already: nothing to run.\n"
        )
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        lake = Lake.from_settings(load_settings())
        return check(lake, sys.stdout) if args.check else migrate(lake, sys.stdout)
    except (ConfigError, LakeUnavailableError, MigrationLockTimeoutError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except duckdb.Error as error:
        print(
            f"{PROG}: a migration failed, and the lake stays at the last version that "
            f"committed (each migration commits whole or not at all): {str(error).strip()}",
            file=sys.stderr,
        )
        return 1


def register(subparsers: Any) -> None:
    """Add the `migrate` subcommand to the `analytics-pipeline` parser."""
    parser = subparsers.add_parser(
        "migrate",
        help="bring the lake to this release's schema version (--check: say what would run)",
        description=(
            "Apply the schema migrations this release has and the lake has not, each once, "
            "one process at a time. The pipeline's first run does the same; this does it now."
        ),
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="print the lake's version and what would run; change nothing "
        "(exit 0: up to date, 1: migrations to run)",
    )
    parser.set_defaults(handler=run)
