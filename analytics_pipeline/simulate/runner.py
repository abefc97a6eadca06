"""Moves messages into a sink: as fast as it takes them (history) or on their timestamps (live).

Prints a progress line every ~2 s or 100,000 messages, and stops cleanly when `stop` is set
(SIGINT/SIGTERM) or the duration is up: whatever was handed to the sink is flushed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from analytics_pipeline.simulate.malformed import Message
from analytics_pipeline.simulate.sinks import Sink

PROGRESS_EVERY_S = 2.0
PROGRESS_EVERY_MESSAGES = 100_000


@dataclass
class RunStats:
    sent: int = 0
    malformed: int = 0
    elapsed_s: float = 0.0
    stopped_early: bool = False  # by a signal, not by the end of the stream or the duration
    lag_s: float = 0.0  # live mode: how far the last message was behind its timestamp

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def pump(
    messages: Iterable[Message],
    sink: Sink,
    *,
    live: bool,
    duration_s: float | None,
    stop: threading.Event,
    report: Callable[[str], None],
    stats: RunStats | None = None,
) -> RunStats:
    """Send `messages` to `sink` until they run out, `duration_s` passes or `stop` is set.

    `stats` (updated in place) still tells how far it got when the sink raises.
    """
    stats = RunStats() if stats is None else stats
    started = time.monotonic()
    deadline = None if duration_s is None else started + duration_s
    next_report_at = started + PROGRESS_EVERY_S
    next_report_count = PROGRESS_EVERY_MESSAGES
    last_report_at, last_report_sent = started, 0
    for message in messages:
        if stop.is_set():
            stats.stopped_early = True
            break
        if live:
            # Sleep until the message's timestamp, waking for the deadline or a signal.
            delay = message.ts.timestamp() - time.time()
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if delay >= remaining:
                    if remaining > 0:
                        stop.wait(remaining)
                    stats.stopped_early = stop.is_set()
                    break
            if delay > 0 and stop.wait(delay):
                stats.stopped_early = True
                break
            stats.lag_s = max(0.0, time.time() - message.ts.timestamp())
        elif deadline is not None and time.monotonic() >= deadline:
            break
        sink.send(message)
        stats.sent += 1
        if message.malformed is not None:
            stats.malformed += 1
        if stats.sent >= next_report_count or (
            (live or stats.sent & 0x3FF == 0) and time.monotonic() >= next_report_at
        ):
            now = time.monotonic()
            recent = (stats.sent - last_report_sent) / max(now - last_report_at, 1e-9)
            line = (
                f"{stats.sent:,} messages sent ({stats.malformed:,} malformed), "
                f"{recent:,.0f}/s now, {stats.sent / (now - started):,.0f}/s overall"
            )
            if live:
                line += f", {stats.lag_s:.1f}s behind real time"
            report(line)
            last_report_at, last_report_sent = now, stats.sent
            next_report_at = now + PROGRESS_EVERY_S
            next_report_count = stats.sent + PROGRESS_EVERY_MESSAGES
    sink.flush()
    stats.elapsed_s = time.monotonic() - started
    return stats
