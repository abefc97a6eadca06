"""`analytics-pipeline dashboard`: serve the Streamlit app (read-only on the lake).

The process becomes Streamlit's server (exec), so Ctrl-C and SIGTERM stop it directly. The
options keep it local and quiet: no usage statistics, no file watcher, no browser opened, and
no error details (the pages show their own messages, never a stack trace).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
APP = Path(__file__).with_name("app.py")


def streamlit_argv(host: str, port: int) -> list[str]:
    """The command line that serves the dashboard on host:port."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        f"--server.address={host}",
        f"--server.port={port}",
        "--server.headless=true",
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--browser.gatherUsageStats=false",
        "--client.showErrorDetails=none",
        "--client.toolbarMode=viewer",
        "--global.developmentMode=false",
        "--theme.base=light",
    ]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    argv = streamlit_argv(args.host, args.port)
    print(f"analytics-pipeline dashboard: http://{args.host}:{args.port}", flush=True)
    os.execv(argv[0], argv)
    return 1  # unreachable: execv replaced the process


def register(subparsers: Any) -> None:
    """Add the `dashboard` subcommand to the `analytics-pipeline` parser."""
    parser = subparsers.add_parser(
        "dashboard",
        help="the analytics dashboard on http://127.0.0.1:8501 (read-only on the lake)",
        description=(
            "Serve the analytics dashboard (funnel, journey explorer, alerts, pipeline health) "
            "over the lake named by ANALYTICS_LAKE_* (read-only)."
        ),
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.set_defaults(handler=run)
