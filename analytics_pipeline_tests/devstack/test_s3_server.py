"""The local stack's S3 server (devstack/s3.sh): `make up` starts it on 127.0.0.1 only with its
own key pair and bucket, a second start reuses it, and `make down` stops the one this checkout
started."""

from __future__ import annotations

import os
import stat
import subprocess

import psutil
import pytest

from analytics_pipeline_tests.fixtures.stack import REPO_ROOT, stack_setting

S3_SH = REPO_ROOT / "devstack" / "s3.sh"
PIDFILE = REPO_ROOT / ".devstack" / "run" / "s3.pid"
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"


def s3_sh(action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(S3_SH), action],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=120,
        check=False,
    )


def check(secret: str) -> int:
    """devstack/s3_check.py against the stack's server: 0 ok, 3 keys refused, 4 no bucket."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": stack_setting("DEVSTACK_S3_ACCESS_KEY"),
        "AWS_SECRET_ACCESS_KEY": secret,
    }
    endpoint = f"http://127.0.0.1:{stack_setting('DEVSTACK_S3_PORT')}"
    bucket = stack_setting("DEVSTACK_S3_BUCKET")
    return subprocess.run(
        [str(PYTHON), str(REPO_ROOT / "devstack" / "s3_check.py"), endpoint, bucket],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    ).returncode


@pytest.mark.serial  # stops and starts the stack's S3 server
def test_up_starts_the_s3_server_on_loopback_with_its_keys_and_bucket_and_down_stops_it(stack):
    assert check(stack_setting("DEVSTACK_S3_SECRET_KEY")) == 0
    assert check("not-the-secret") == 3  # it checks signatures
    pid = int(PIDFILE.read_text())
    listening = [c for c in psutil.Process(pid).net_connections() if c.status == "LISTEN"]
    assert listening and {c.laddr.ip for c in listening} == {"127.0.0.1"}
    config = REPO_ROOT / ".devstack" / "s3" / "s3.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    again = s3_sh("start")
    assert again.returncode == 0, again.stdout
    assert int(PIDFILE.read_text()) == pid, again.stdout  # reused, not restarted

    stopped = s3_sh("stop")
    try:
        assert "s3: stopped" in stopped.stdout and not psutil.pid_exists(pid), stopped.stdout
        assert check(stack_setting("DEVSTACK_S3_SECRET_KEY")) == 5  # nothing answers
    finally:
        started = s3_sh("start")
        assert started.returncode == 0, started.stdout
    assert check(stack_setting("DEVSTACK_S3_SECRET_KEY")) == 0  # its bucket is still there
