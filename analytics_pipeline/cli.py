"""`analytics-pipeline`: the command-line entry point; each subcommand registers itself here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from analytics_pipeline.dashboard import command as dashboard_command
from analytics_pipeline.dashboard import sql as sql_command
from analytics_pipeline.simulate import command as simulate_command
from analytics_pipeline.warehouse import migrate_command

# One `register(subparsers)` per subcommand: adding a command is one line.
COMMANDS: tuple[Callable[[Any], None], ...] = (
    simulate_command.register,
    sql_command.register,
    dashboard_command.register,
    migrate_command.register,
)


class OneLineErrorParser(argparse.ArgumentParser):
    """Bad arguments: one line naming the problem and pointing at --help, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="analytics-pipeline",
        description="Customer-journey analytics on Kafka: tools around the Dagster code location.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code (argument errors: 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.handler(args))
    except SystemExit as exit_:  # argparse's --help (0) and usage errors (2)
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        print("analytics-pipeline: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
