#!/usr/bin/env bash
# The local Slack stub (devstack/slack_stub.py): `bash devstack/slack.sh start|stop`.
#
# It speaks the few Slack Web API methods the pipeline calls and shows what it received on
# http://127.0.0.1:8765/. Messages and files are kept in .devstack/slack. It accepts exactly
# one token, SLACK_BOT_TOKEN (the environment, else .env, else .env.example), the one `make run`
# gives the pipeline.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STUB="${DEVSTACK_REPO}/devstack/slack_stub.py"
STUB_HOST="127.0.0.1"
STUB_PORT="${DEVSTACK_SLACK_PORT:-8765}"
STUB_PIDFILE="${DEVSTACK_PIDS}/slack_stub.pid"
STUB_LOG="${DEVSTACK_LOGS}/slack_stub.log"
STUB_HEALTH="http://${STUB_HOST}:${STUB_PORT}/_stub/health"
STUB_MARKER="slack_stub.py"
STUB_START_TIMEOUT="${DEVSTACK_SLACK_START_TIMEOUT:-20}"

# The stub needs only the standard library: without the project's venv, the system python3 does.
STUB_PYTHON="$DEVSTACK_PYTHON"
[[ -x "$STUB_PYTHON" ]] || STUB_PYTHON="$(command -v python3 || true)"

# True when the stub accepts SLACK_BOT_TOKEN (read from the environment, never an argument).
stub_takes_token() {
    "$STUB_PYTHON" - "http://${STUB_HOST}:${STUB_PORT}/api/auth.test" <<'PY' >/dev/null 2>&1
import json, os, sys, urllib.request
request = urllib.request.Request(
    sys.argv[1], data=b"", headers={"Authorization": "Bearer " + os.environ["SLACK_BOT_TOKEN"]}
)
with urllib.request.urlopen(request, timeout=5) as response:
    sys.exit(0 if json.load(response).get("ok") else 1)
PY
}

# A stub that refuses SLACK_BOT_TOKEN breaks the pipeline only if SLACK_API_URL points at it.
token_mismatch() {
    case "${SLACK_API_URL:-}" in
    *"127.0.0.1:${STUB_PORT}"* | *"localhost:${STUB_PORT}"*) devstack_die "$1" ;;
    *) devstack_warn "$1" ;;
    esac
}

stub_answers() {
    "$STUB_PYTHON" - "$STUB_HEALTH" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
PY
}

start() {
    if [[ ! -f "$STUB" ]]; then
        devstack_warn "slack stub: ${STUB} does not exist yet; not started"
        return 0
    fi
    [[ -n "$STUB_PYTHON" ]] || devstack_die "slack stub: no python found; run: make venv"
    [[ -n "${SLACK_BOT_TOKEN:-}" ]] ||
        devstack_die "slack stub: SLACK_BOT_TOKEN is not set (environment, .env or .env.example); set it to the token the stub must accept"
    export SLACK_BOT_TOKEN
    local pid
    if pid="$(devstack_live_pid "$STUB_PIDFILE" "$STUB_MARKER")"; then
        :
    elif devstack_port_open "$STUB_HOST" "$STUB_PORT"; then
        stub_answers || devstack_die "slack stub: port ${STUB_PORT} is taken by something that is not the Slack stub"
        stub_takes_token || token_mismatch "slack stub: the one on ${STUB_HOST}:${STUB_PORT} (not started by this checkout) refuses SLACK_BOT_TOKEN; stop it or set SLACK_BOT_TOKEN to its token"
        devstack_say "slack stub: one this checkout did not start already answers on ${STUB_HOST}:${STUB_PORT}; using it"
        return 0
    else
        mkdir -p "${DEVSTACK_STATE}/slack"
        devstack_spawn "$STUB_PIDFILE" "$STUB_LOG" "$STUB_PYTHON" "$STUB" \
            --host "$STUB_HOST" --port "$STUB_PORT" --data-dir "${DEVSTACK_STATE}/slack"
        pid="$(cat "$STUB_PIDFILE")"
    fi
    local deadline=$((SECONDS + STUB_START_TIMEOUT))
    until stub_answers; do
        if [[ ! -d "/proc/$pid" ]]; then
            devstack_tail "$STUB_LOG"
            devstack_die "slack stub: exited during start-up; see ${STUB_LOG}"
        fi
        if ((SECONDS >= deadline)); then
            devstack_tail "$STUB_LOG"
            devstack_die "slack stub: no answer on ${STUB_HEALTH} after ${STUB_START_TIMEOUT}s; see ${STUB_LOG}"
        fi
        sleep 0.2
    done
    stub_takes_token || token_mismatch "slack stub: it refuses SLACK_BOT_TOKEN: it was started with another token; restart it: make down && make up"
    devstack_say "slack stub: ready (pid $pid) on http://${STUB_HOST}:${STUB_PORT}/, log ${STUB_LOG}"
}

stop() {
    devstack_stop_pidfile "$STUB_PIDFILE" "$STUB_MARKER" 10 "slack stub"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
