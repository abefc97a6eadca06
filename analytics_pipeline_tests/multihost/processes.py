"""A process started on one of the multi-host test's hosts, with its log, and bounded waiting."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from analytics_pipeline_tests.fixtures.stack import terminate_with_parent
from analytics_pipeline_tests.multihost.network import Network

T = TypeVar("T")


class Checked(Protocol):
    """A process `wait_for` watches: `check()` fails if it has exited."""

    def check(self) -> None: ...


@dataclass
class HostProcess:
    """`name` running on `host` (its pid is the service's own: `ip netns exec` execs it)."""

    name: str
    host: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def check(self) -> None:
        """Fail now, with its log, if the process has exited."""
        if not self.alive():
            raise AssertionError(
                f"{self.name} on {self.host} exited ({self.process.returncode}); "
                f"{self.log}:\n{self.log_tail()}"
            )


def spawn(
    net: Network,
    host: str,
    name: str,
    argv: Sequence[str],
    logs: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> HostProcess:
    """Start `argv` on `host`, output to `logs/<name>.log`; SIGTERMed if the test dies."""
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            net.command(host, argv),
            cwd=cwd or logs,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )
    return HostProcess(name, host, process, log)


def wait_for(
    what: str,
    predicate: Callable[[], T],
    timeout: float,
    watch: Sequence[Checked] = (),
    interval: float = 0.2,
) -> T:
    """Poll `predicate` (exceptions count as "not yet") until truthy; fail at once if a watched
    process exits, or after `timeout` with the last error."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        for process in watch:
            process.check()
        try:
            result = predicate()
            if result:
                return result
        except Exception as error:  # a service not up yet
            last = error
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not ready after {timeout:g} s (last error: {last!r})")
        time.sleep(interval)
