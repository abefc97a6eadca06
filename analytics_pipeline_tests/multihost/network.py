"""Hosts on one machine: Linux network namespaces on a private bridge, for the multi-host test.

Each host is a namespace `<tag>-<host>` with one interface, `eth0`, holding its own address on
SUBNET. The other end of every host's veth pair, and the bridge joining them, live in one more
namespace, `<tag>-net`: no namespace has a route off this /24, so no traffic can leave the
machine (or even reach its loopback). The machine's own namespace gets one route while the
network exists, `unreachable SUBNET/24 metric <pid>`: a connection to a host's address made
from outside the hosts (a thread of the test process, say) fails at once with "no route to
host" instead of going to the default gateway, off the machine. Each session's route has its
own metric, so sessions side by side add and remove theirs alone.

`tag` is `mh<pid of the test process>`, so two test sessions never collide, and a session that
died without its teardown is recognised by its dead pid and removed by the next one
(`remove_stale`), processes included. Needs root (CAP_SYS_ADMIN), as `ip netns add` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "10.231.7"
PREFIX_LENGTH = 24
GUARDED = f"{SUBNET}.0/{PREFIX_LENGTH}"
# The hosts' scratch folders: not under /tmp, which the S3 server's host replaces (store.py).
SCRATCH = Path("/var/tmp")
_STALE = re.compile(r"^mh(\d+)-")


def ip(*args: str) -> str:
    """Run `ip ARGS`; fail with what it said."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def namespace_pids(name: str) -> list[int]:
    result = subprocess.run(
        ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in result.stdout.split()] if result.returncode == 0 else []


def kill_namespace(name: str, sig: signal.Signals = signal.SIGKILL, timeout: float = 10) -> None:
    """Send `sig` to every process in the namespace; with SIGKILL, wait until none is left."""
    for pid in namespace_pids(name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    if sig != signal.SIGKILL:
        return
    deadline = time.monotonic() + timeout
    while namespace_pids(name) and time.monotonic() < deadline:
        time.sleep(0.05)


def delete_namespace(name: str) -> None:
    kill_namespace(name)
    with contextlib.suppress(RuntimeError):
        ip("netns", "delete", name)


def guard_metrics() -> list[int]:
    """The metrics of the `unreachable SUBNET/24` routes in the machine's namespace."""
    routes = json.loads(ip("-j", "route", "show", "type", "unreachable") or "[]")
    return [route.get("metric", 0) for route in routes if route.get("dst") == GUARDED]


def add_guard(metric: int) -> None:
    """No route off the machine for the hosts' addresses, from the machine's namespace."""
    if metric not in guard_metrics():  # else left by a dead session whose pid we now have
        ip("route", "add", "unreachable", GUARDED, "metric", str(metric))


def remove_guard(metric: int) -> None:
    with contextlib.suppress(RuntimeError):
        ip("route", "del", "unreachable", GUARDED, "metric", str(metric))


def remove_stale(scratch: Path = SCRATCH) -> list[str]:
    """Delete the namespaces (and their processes) of multi-host sessions that are gone, their
    scratch folders (`<scratch>/mh<pid>-*`) and their guard routes (metric <pid>)."""
    removed = []
    for metric in guard_metrics():
        if metric and not Path(f"/proc/{metric}").exists():
            remove_guard(metric)
            removed.append(f"unreachable {GUARDED} metric {metric}")
    for name in namespaces():
        match = _STALE.match(name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            delete_namespace(name)
            removed.append(name)
    for folder in scratch.glob("mh*-*"):
        match = _STALE.match(folder.name)
        if match and folder.is_dir() and not Path(f"/proc/{match.group(1)}").exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    return removed


def identify(pid: int) -> list[str]:
    """The named namespaces `pid` is in (`ip netns identify`); empty if none or no such pid."""
    result = subprocess.run(
        ["ip", "netns", "identify", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.split()


@dataclass
class Network:
    """Hosts (name -> last octet of its address) on a bridge; `create()` / `delete()`."""

    hosts: Mapping[str, int]
    tag: str = field(default_factory=lambda: f"mh{os.getpid()}")
    created: list[str] = field(default_factory=list)
    guard: int | None = None  # the metric of our route in the machine's namespace

    def ns(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def address(self, host: str) -> str:
        return f"{SUBNET}.{self.hosts[host]}"

    @property
    def switch(self) -> str:
        return f"{self.tag}-net"

    def host_of(self, pid: int) -> str | None:
        """Which of our hosts `pid` runs on, from `ip netns identify`."""
        for name in identify(pid):
            for host in self.hosts:
                if name == self.ns(host):
                    return host
        return None

    def create(self) -> None:
        """The guard route, the bridge's namespace, then one namespace per host, plugged in
        and addressed."""
        add_guard(os.getpid())
        self.guard = os.getpid()
        self._add(self.switch)
        ip("-n", self.switch, "link", "set", "lo", "up")
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for host in self.hosts:
            ns, port = self.ns(host), f"v-{host}"[:15]
            self._add(ns)
            ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "eth0", "netns", ns)
            ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{self.address(host)}/{PREFIX_LENGTH}", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def _add(self, ns: str) -> None:
        ip("netns", "add", ns)
        self.created.append(ns)

    def delete(self) -> None:
        """Kill every process on every host, then delete the namespaces (bridge last), then
        the guard route."""
        for ns in reversed(self.created):
            delete_namespace(ns)
        self.created.clear()
        if self.guard is not None:
            remove_guard(self.guard)
            self.guard = None

    def command(self, host: str, argv: Sequence[str]) -> list[str]:
        """`argv` run on `host`."""
        return ["ip", "netns", "exec", self.ns(host), *argv]

    def pids(self, host: str) -> list[int]:
        return namespace_pids(self.ns(host))

    def kill(self, host: str) -> list[int]:
        """SIGKILL every process on `host` at once, as when the host dies; the pids killed."""
        pids = self.pids(host)
        kill_namespace(self.ns(host))
        return pids
