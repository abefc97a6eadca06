"""Ctrl-C on `make run`, typed in a real terminal (tmux), stops everything it started in 10 s.

`make run` starts in an interactive shell in a private tmux server, on its own webserver
port, DAGSTER_HOME, Dagster database, lake catalog and topics, so it never meets a user's
`make run`. Every process it started is found two ways, independently of how run.sh tracks
them: the process tree under the terminal's shell, and every process whose environment carries
this test's unique topic name (which reaches even a process that left the tree).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, StackInfo, pg_query, wait_until

pytestmark = pytest.mark.slow

STOP_WITHIN_S = 10.0
START_TIMEOUT_S = 180.0
# What `make run` must have started before Ctrl-C: cmdline fragment -> role.
EXPECTED_ROLES = {
    "analytics-pipeline simulate": "simulator",
    "dagster dev": "dagster dev",
    "dagster_webserver": "webserver",
    "dagster._daemon": "daemon",
    "api grpc": "code server",
    "analytics_pipeline/dashboard": "dashboard",  # streamlit on the app; once the CLI has it
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Terminal:
    """A tmux session on a private server, running an interactive bash."""

    socket_name: str
    session: str

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket_name, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout

    def type(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def shell_pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", self.session, "#{pane_pid}"))

    def screen(self) -> str:
        """The pane with its whole history: runs interrupted by Ctrl-C print their last events
        after make run's own "stopping" line, which 60 lines of history did not always reach."""
        return self.tmux("capture-pane", "-p", "-S", "-", "-t", self.session)


@pytest.fixture
def run_env(stack: StackInfo, new_topics, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings for a private `make run`; its databases are dropped at teardown."""
    from psycopg2 import sql

    clickstream, backend = new_topics(partitions=3)
    suffix = uuid.uuid4().hex[:8]
    dagster_db, lake_db = f"dagster_ctrlc_{suffix}", f"lake_ctrlc_{suffix}"
    env = {
        "DAGSTER_WEBSERVER_PORT": str(free_port()),
        "ANALYTICS_DASHBOARD_PORT": str(free_port()),
        "DEVSTACK_DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "DAGSTER_PG_DB": dagster_db,
        "ANALYTICS_CLICKSTREAM_TOPIC": clickstream,
        "ANALYTICS_BACKEND_TOPIC": backend,
        "ANALYTICS_LAKE_CATALOG": (
            f"postgres:dbname={lake_db} host={stack.pg_host} port={stack.pg_port} "
            f"user={stack.pg_user}"
        ),
        "ANALYTICS_LAKE_PASSWORD": stack.pg_password,
        "ANALYTICS_LAKE_DATA_PATH": f"{tmp_path / 'lake'}/",
        "ANALYTICS_REPORTS_DIR": str(tmp_path / "reports"),
        # Alerts go nowhere (nothing listens there), so the shared Slack stub stays untouched.
        "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",
    }
    yield env
    for name in (dagster_db, lake_db):
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        pg_query(stack, stack.pg_db, drop)


@pytest.fixture
def terminal(run_env: dict[str, str]) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing; install it with: apt-get install -y tmux (make sysdeps)")
    term = Terminal(socket_name=f"ctrlc-{uuid.uuid4().hex[:8]}", session="run")
    exports = [item for name, value in run_env.items() for item in ("-e", f"{name}={value}")]
    term.tmux(
        "new-session", "-d", "-s", term.session, "-x", "200", "-y", "50", "-c", str(REPO_ROOT),
        *exports, "bash --norc --noprofile -i",
    )  # fmt: skip
    socket_path = term.tmux("display-message", "-p", "#{socket_path}").strip()
    yield term
    with contextlib.suppress(subprocess.SubprocessError):
        term.tmux("kill-server")
    Path(socket_path).unlink(missing_ok=True)


def carries(process: psutil.Process, marker: str) -> bool:
    with contextlib.suppress(psutil.Error):
        return marker in process.environ().values()
    return False


def started_by_run(term: Terminal, marker: str) -> dict[int, psutil.Process]:
    """Every live process under the terminal's shell or carrying the marker, but the shell."""
    shell = psutil.Process(term.shell_pid())
    found = {p.pid: p for p in shell.children(recursive=True)}
    for process in psutil.process_iter():
        if process.pid not in found and carries(process, marker):
            found[process.pid] = process
    found.pop(shell.pid, None)
    for tmux_pid in {p.pid for p in found.values() if name_of(p) == "tmux"}:
        found.pop(tmux_pid)
    return {pid: p for pid, p in found.items() if alive(p)}


def name_of(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return process.name()
    return ""


def cmdline_of(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline())
    return ""


def alive(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    return False


def roles_of(processes: dict[int, psutil.Process]) -> dict[str, psutil.Process]:
    roles: dict[str, psutil.Process] = {}
    for process in processes.values():
        command = cmdline_of(process)
        for fragment, role in EXPECTED_ROLES.items():
            if fragment in command:
                roles.setdefault(role, process)
    return roles


def dashboard_available() -> bool:
    """run.sh starts the dashboard only if this works; so must the test expect it."""
    command = [str(REPO_ROOT / ".venv" / "bin" / "analytics-pipeline"), "dashboard", "--help"]
    return subprocess.run(command, capture_output=True, timeout=60, check=False).returncode == 0


def webserver_answers(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def test_ctrl_c_in_the_terminal_stops_everything_make_run_started(terminal, run_env):
    marker = run_env["ANALYTICS_BACKEND_TOPIC"]  # unique to this test, inherited by every child
    terminal.type("make run", "Enter")

    try:
        wait_until(
            lambda: webserver_answers(run_env["DAGSTER_WEBSERVER_PORT"]),
            timeout=START_TIMEOUT_S,
            interval=1,
            message="the Dagster webserver of make run never answered",
        )
    except AssertionError as failure:
        pytest.fail(f"{failure}; screen:\n{terminal.screen()}")

    expected = set(EXPECTED_ROLES.values()) - {"dashboard"}
    if dashboard_available():
        expected.add("dashboard")

    def all_roles_started() -> dict[str, psutil.Process] | None:
        roles = roles_of(started_by_run(terminal, marker))
        return roles if roles.keys() >= expected else None

    roles = wait_until(
        all_roles_started,
        timeout=60,
        interval=0.5,
        message=f"make run did not start all of {sorted(expected)}",
    )
    # make filled in defaults only where the environment had none: the code server got ours,
    # and runs outside the repository root, where no .env can override it.
    code_server = roles["code server"]
    assert code_server.environ()["ANALYTICS_BACKEND_TOPIC"] == marker
    assert code_server.environ()["DAGSTER_PG_DB"] == run_env["DAGSTER_PG_DB"]
    assert Path(code_server.cwd()) == Path(run_env["DEVSTACK_DAGSTER_HOME"])
    before = started_by_run(terminal, marker)
    assert any("make run" in cmdline_of(p) for p in before.values())

    terminal.type("C-c")
    pressed = time.monotonic()
    try:
        wait_until(
            lambda: (
                not started_by_run(terminal, marker) and not any(alive(p) for p in before.values())
            ),
            timeout=STOP_WITHIN_S,
            interval=0.1,
            message="processes still running after Ctrl-C",
        )
    except AssertionError:
        left = {**started_by_run(terminal, marker)}
        left.update({pid: p for pid, p in before.items() if alive(p)})
        listing = "\n".join(f"  {pid} {cmdline_of(p)[:150]}" for pid, p in left.items())
        for process in left.values():
            with contextlib.suppress(psutil.Error):
                process.kill()
        pytest.fail(
            f"{len(left)} processes still running {STOP_WITHIN_S:g}s after Ctrl-C:\n{listing}\n"
            f"screen:\n{terminal.screen()}"
        )
    stopped_after = time.monotonic() - pressed
    print(f"make run: {len(before)} processes stopped {stopped_after:.1f}s after Ctrl-C")
    screen = terminal.screen()
    print(screen[screen.rfind("devstack: stopping") :])

    assert not webserver_answers(run_env["DAGSTER_WEBSERVER_PORT"])
    assert "stopping" in terminal.screen()
