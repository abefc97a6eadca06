"""SPEC §2: the environment always wins, at every entry point.

`make` fills in defaults (environment, then a user's `.env`, then `.env.example`). The Dagster
commands are run for real from the root of a fresh export of the repository, on a probe code
location (precedence_probe.py) that loads the real one and records which topic and channel its
resources got, in the very process that loaded it. A control run from a folder with a `.env`
shows the probe does see an override: Dagster's CLI applies `./.env` over the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest

from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, VENV_BIN, dotenv_defaults

PROBE = Path(__file__).with_name("precedence_probe.py")
COMMAND_TIMEOUT_S = 90
ENV_TOPIC = f"precedence-env-{uuid.uuid4().hex[:6]}"
ENV_CHANNEL = "#precedence-from-environment"
MATERIALIZE = [str(VENV_BIN / "dagster"), "asset", "materialize"]


def make_config(cwd: Path, env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """`make -s config` as {name: (value, source)}."""
    result = subprocess.run(
        ["make", "-s", "config"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shown: dict[str, tuple[str, str]] = {}
    for line in result.stdout.splitlines():
        assignment, _, source = line.rpartition("  # ")
        name, _, value = assignment.partition("=")
        shown[name] = (value, source)
    return shown


def clean_env(*layers: dict[str, str], **overrides: str) -> dict[str, str]:
    """The test process's environment without any setting of SPEC §2, then `layers` and
    `overrides` on top, later ones winning."""
    prefixes = ("ANALYTICS_", "KAFKA_", "SLACK_", "DAGSTER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    for layer in layers:
        env.update(layer)
    return {**env, **overrides}


def test_dotenv_is_not_committed_and_is_git_ignored_and_the_example_has_the_lake_settings():
    tracked = subprocess.run(
        ["git", "ls-files", "--", ".env", ".env.example"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT, check=False)

    assert tracked == [".env.example"]
    assert ignored.returncode == 0, ".env is not git-ignored"
    example = dotenv_defaults(REPO_ROOT / ".env.example")
    assert example["ANALYTICS_LAKE_CATALOG"] == (
        "postgres:dbname=analytics_lake host=127.0.0.1 port=5432 user=dagster"
    )
    assert example["ANALYTICS_LAKE_PASSWORD"] == "dagster"
    assert example["ANALYTICS_LAKE_DATA_PATH"] == "data/lake/"
    assert "ANALYTICS_DUCKDB_PATH" not in example


def test_make_uses_the_environment_over_the_example_defaults():
    shown = make_config(
        REPO_ROOT,
        clean_env(ANALYTICS_BACKEND_TOPIC=ENV_TOPIC, SLACK_ALERTS_CHANNEL=ENV_CHANNEL),
    )

    assert shown["ANALYTICS_BACKEND_TOPIC"] == (ENV_TOPIC, "environment")
    assert shown["SLACK_ALERTS_CHANNEL"] == (ENV_CHANNEL, "environment")
    assert shown["ANALYTICS_LAKE_DATA_PATH"][0] == "data/lake/"


def test_make_ranks_environment_then_user_dotenv_then_example(tmp_path):
    """In a copy of the make/devstack files, so the real checkout never gets a .env."""
    (tmp_path / "devstack").mkdir()
    for name in ("Makefile", ".env.example", "devstack/env.sh", "devstack/config.sh"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    (tmp_path / ".env").write_text(
        "ANALYTICS_BACKEND_TOPIC=from-user-dotenv\n"
        "SLACK_ALERTS_CHANNEL='#from-user-dotenv'\n"
        "export ANALYTICS_CLICKSTREAM_TOPIC=clicks-from-user-dotenv\n"
    )
    secret = f"lake-secret-{uuid.uuid4().hex}"

    shown = make_config(
        tmp_path,
        clean_env(
            ANALYTICS_BACKEND_TOPIC=ENV_TOPIC,
            SLACK_ALERTS_CHANNEL=ENV_CHANNEL,
            ANALYTICS_LAKE_PASSWORD=secret,
        ),
    )

    assert shown["ANALYTICS_BACKEND_TOPIC"] == (ENV_TOPIC, "environment")
    assert shown["SLACK_ALERTS_CHANNEL"] == (ENV_CHANNEL, "environment")
    assert shown["ANALYTICS_CLICKSTREAM_TOPIC"] == ("clicks-from-user-dotenv", ".env")
    assert shown["KAFKA_BOOTSTRAP_SERVERS"] == ("127.0.0.1:9092", ".env.example")
    assert shown["ANALYTICS_LAKE_PASSWORD"] == ("(hidden)", "environment")
    assert secret not in json.dumps(shown)


# --- the Dagster commands, for real ----------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository root as a fresh clone has it: the committed files of HEAD."""
    root = tmp_path_factory.mktemp("fresh-clone")
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    assert not (root / ".env").exists(), "a .env is committed: Dagster would load it"
    return root


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a Dagster command on the probe: the .env.example defaults `make` would
    fill in, the test's topic and channel, a throw-away instance, and the probe's output file."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    out = tmp_path / "probe.jsonl"
    env = clean_env(
        dotenv_defaults(REPO_ROOT / ".env.example"),
        ANALYTICS_BACKEND_TOPIC=ENV_TOPIC,
        SLACK_ALERTS_CHANNEL=ENV_CHANNEL,
        DAGSTER_HOME=str(home),
        PRECEDENCE_PROBE_OUT=str(out),
    )
    yield env


def probe_records(env: dict[str, str]) -> list[dict[str, str]]:
    path = Path(env["PRECEDENCE_PROBE_OUT"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def probe_target() -> list[str]:
    # The probe's own folder as working directory: the code comes from the installed package.
    return ["-f", str(PROBE), "-d", str(PROBE.parent)]


def assert_environment_won(records: list[dict[str, str]], topic: str, channel: str) -> None:
    assert records, "the probe code location was never loaded"
    for seen in records:
        assert (seen["env_backend_topic"], seen["backend_topic"]) == (topic, topic), seen
        assert (seen["env_alerts_channel"], seen["alerts_channel"]) == (channel, channel), seen


def run_long_lived_until_loaded(command: list[str], cwd: Path, env: dict[str, str]) -> list[dict]:
    """Start a long-running Dagster command; once a process of it loaded the probe, stop it."""
    log = Path(env["PRECEDENCE_PROBE_OUT"]).with_suffix(".log")
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while not probe_records(env):
            assert process.poll() is None, f"{command[0]} exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no probe load:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        return probe_records(env)
    finally:
        kill_group(process)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the command's whole process group (a throw-away instance: no clean stop needed)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dagster_asset_materialize_from_the_repository_root_uses_the_environment(fresh_root, probe):
    result = subprocess.run(
        [*MATERIALIZE, *probe_target(), "--select", "precedence_probe"],
        cwd=fresh_root,
        env=probe,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = probe_records(probe)
    assert {seen["where"] for seen in records} == {"load", "run"}
    assert_environment_won(records, ENV_TOPIC, ENV_CHANNEL)


def test_dagster_daemon_from_the_repository_root_uses_the_environment(fresh_root, probe):
    records = run_long_lived_until_loaded(
        [str(VENV_BIN / "dagster-daemon"), "run", *probe_target()], fresh_root, probe
    )

    assert_environment_won(records, ENV_TOPIC, ENV_CHANNEL)


def test_dagster_dev_from_the_repository_root_uses_the_environment(fresh_root, probe):
    command = [str(VENV_BIN / "dagster"), "dev", *probe_target()]
    records = run_long_lived_until_loaded(
        [*command, "-h", "127.0.0.1", "-p", str(free_port())], fresh_root, probe
    )

    assert_environment_won(records, ENV_TOPIC, ENV_CHANNEL)


def test_control_dagster_cli_applies_a_dotenv_in_its_working_directory_over_the_environment(
    tmp_path, probe
):
    """Why no .env may be committed, and why `make run` starts Dagster outside the repository:
    Dagster 1.13's CLI loads ./.env with override (dagster/_cli/utils.py)."""
    folder = tmp_path / "with-dotenv"
    folder.mkdir()
    (folder / ".env").write_text(
        "ANALYTICS_BACKEND_TOPIC=from-dotenv-file\nSLACK_ALERTS_CHANNEL=#from-dotenv-file\n"
    )

    result = subprocess.run(
        [*MATERIALIZE, *probe_target(), "--select", "precedence_probe"],
        cwd=folder,
        env=probe,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_environment_won(probe_records(probe), "from-dotenv-file", "#from-dotenv-file")
