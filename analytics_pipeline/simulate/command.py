"""`analytics-pipeline simulate`: arguments, wiring of generator -> malformer -> sink, exit codes.

Exit codes: 0 done (or stopped by Ctrl-C / SIGTERM in live mode), 1 Kafka or the output file
failed, 2 bad arguments or configuration, 130 a history run interrupted before the end.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from analytics_pipeline.clients.kafka import ConnectionConfig
from analytics_pipeline.settings import ConfigError, Settings, load_settings
from analytics_pipeline.simulate.malformed import Message, encode_stream
from analytics_pipeline.simulate.model import SimEvent
from analytics_pipeline.simulate.runner import RunStats, pump
from analytics_pipeline.simulate.sinks import (
    KAFKA_CLIENTS,
    JsonLinesSink,
    Sink,
    SinkError,
    open_kafka_sink,
)
from analytics_pipeline.simulate.traffic import (
    default_start,
    generate_live_traffic,
    generate_traffic,
)

PROG = "analytics-pipeline simulate"
DEFAULT_USERS = 1000
DEFAULT_DAYS = 30
DEFAULT_SEED = 1
DEFAULT_LIVE_RATE = 20.0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number between 0 and 1, got {text!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-01, got {text!r}") from None


def register(subparsers: Any) -> None:
    """Add the `simulate` subcommand to the `analytics-pipeline` parser."""
    parser = subparsers.add_parser(
        "simulate",
        help="produce synthetic portal traffic to Kafka (SPEC §8)",
        description=(
            "Produce realistic portal traffic in the wire format to the clickstream and backend "
            "topics: history (as fast as Kafka takes it) or --live (paced, current timestamps). "
            "The same seed gives the same events."
        ),
    )
    history = parser.add_argument_group(
        "history (the default; with --live, given any of these, history first, then live)"
    )
    history.add_argument(
        "--users",
        type=_positive_int,
        help=f"people to simulate, incl. ~14%% anonymous visitors (default {DEFAULT_USERS})",
    )
    history.add_argument(
        "--days", type=_positive_int, help=f"days of history (default {DEFAULT_DAYS})"
    )
    history.add_argument(
        "--start",
        type=_iso_date,
        help="first day, YYYY-MM-DD (default: so that the history ends today); "
        "events are never later than now",
    )
    live = parser.add_argument_group("live mode")
    live.add_argument(
        "--live", action="store_true", help="pace events in real time with current timestamps"
    )
    live.add_argument(
        "--rate",
        type=_positive_float,
        help=f"live: average events per second (default {DEFAULT_LIVE_RATE:g})",
    )
    parser.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="stop after this many seconds (default: live runs until Ctrl-C)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--malformed-fraction",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="replace about F of the messages by invalid ones of every kind (default 0)",
    )
    target = parser.add_argument_group("where to")
    target.add_argument(
        "--bootstrap-servers", metavar="HOST:PORT[,...]", help="default KAFKA_BOOTSTRAP_SERVERS"
    )
    target.add_argument("--clickstream-topic", help="default ANALYTICS_CLICKSTREAM_TOPIC")
    target.add_argument("--backend-topic", help="default ANALYTICS_BACKEND_TOPIC")
    target.add_argument(
        "--kafka-client",
        choices=KAFKA_CLIENTS,
        default="auto",
        help="producer library; auto: confluent-kafka when installed (fast), else kafka-python",
    )
    target.add_argument(
        "--output",
        type=Path,
        metavar="FILE.jsonl",
        help='write JSON lines {"topic","key","value"} to FILE instead of Kafka',
    )
    parser.set_defaults(handler=run, parser=parser)


def _check_combinations(args: argparse.Namespace) -> None:
    parser: argparse.ArgumentParser = args.parser
    if not args.live and args.rate is not None:
        parser.error("--rate applies to --live mode only")
    if args.start is not None and args.start > datetime.now(UTC).date():
        parser.error(f"--start {args.start} is in the future; history ends now")
    if args.output is not None and args.bootstrap_servers is not None:
        parser.error("--output writes a file; --bootstrap-servers makes no sense with it")


def _settings(args: argparse.Namespace) -> Settings:
    try:
        settings = load_settings()
    except ConfigError as error:
        args.parser.error(str(error))
    if args.bootstrap_servers is not None:
        env = {"KAFKA_BOOTSTRAP_SERVERS": args.bootstrap_servers}
        try:
            load_settings(env)
        except ConfigError as error:
            args.parser.error(str(error).replace("KAFKA_BOOTSTRAP_SERVERS", "--bootstrap-servers"))
    return settings


def _kafka_sink(settings: Settings, bootstrap: str, topics: dict[str, str], client: str) -> Sink:
    connection = ConnectionConfig.from_settings(settings).with_servers(bootstrap)
    return open_kafka_sink(connection, topics, client)


def _messages(args: argparse.Namespace) -> Iterator[Message]:
    now = datetime.now(UTC)
    history = not args.live or any(v is not None for v in (args.users, args.days, args.start))
    events: Iterator[SimEvent] = iter(())
    if history:
        days = args.days or DEFAULT_DAYS
        start = args.start or default_start(days, now.date())
        events = generate_traffic(args.users or DEFAULT_USERS, days, args.seed, start, until=now)
    if args.live:
        live = generate_live_traffic(args.rate or DEFAULT_LIVE_RATE, args.seed, now)
        events = itertools.chain(events, live)
    return encode_stream(events, args.malformed_fraction, args.seed)


def _report(line: str) -> None:
    print(f"simulate: {line}", file=sys.stderr, flush=True)


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return 1


class _Signals:
    """SIGINT/SIGTERM set `stop` (a clean, flushed shutdown); a second signal aborts.

    A signal the parent told us to ignore stays ignored (a shell's `cmd &` ignores SIGINT),
    so Ctrl-C meant for a foreground program does not stop a background simulator.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def run(args: argparse.Namespace) -> int:
    _check_combinations(args)
    settings = _settings(args)
    topics = {
        "clickstream": args.clickstream_topic or settings.clickstream_topic,
        "backend": args.backend_topic or settings.backend_topic,
    }
    bootstrap = args.bootstrap_servers or settings.kafka_bootstrap_servers
    # kafka-python logs every failed connection attempt; the user gets one clear line instead.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    destination = str(args.output) if args.output else f"Kafka at {bootstrap}"
    sink: Sink
    try:
        if args.output is not None:
            sink = JsonLinesSink(args.output, topics)
        else:
            sink = _kafka_sink(settings, bootstrap, topics, args.kafka_client)
            destination += f" via {sink.client}"
    except SinkError as error:
        return _error(str(error))

    stats = RunStats()
    try:
        with _Signals() as signals:
            pump(
                _messages(args),
                sink,
                live=args.live,
                duration_s=args.duration,
                stop=signals.stop,
                report=_report,
                stats=stats,
            )
    except SinkError as error:
        return _error(f"{error} ({stats.sent:,} messages were handed over before)")
    except OSError as error:
        return _error(f"cannot write {destination}: {error.strerror}")
    finally:
        with contextlib.suppress(Exception):  # closing must not hide the real outcome
            sink.close()

    summary = (
        f"{stats.sent:,} messages ({stats.malformed:,} malformed) to {destination} "
        f"({topics['clickstream']}, {topics['backend']}) in {stats.elapsed_s:.1f}s, "
        f"{stats.rate:,.0f} messages/s"
    )
    if sink.failed:
        return _error(f"{sink.failed:,} of {summary} were not delivered: {sink.first_error}")
    _report(("stopped: " if stats.stopped_early else "done: ") + summary)
    if stats.stopped_early and not args.live:
        return 130
    return 0
