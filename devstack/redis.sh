#!/usr/bin/env bash
# Redis for the pool of run workers (Celery's broker and result backend):
# `bash devstack/redis.sh start|stop`.
#
# Only the pool variant needs it (deploy/dagster.celery.yaml; `make up` starts it when
# ANALYTICS_RUN_POOL=celery). Debian's redis-server (devstack/sysdeps.sh), bound to 127.0.0.1
# on its own port (DEVSTACK_REDIS_PORT, default 6390, not Redis's 6379 so a system Redis is never
# mistaken for ours), no persistence: a broker that restarts empty loses queued runs, which
# run monitoring's start timeout then fails and run_retries launches again. Idempotent: a
# Redis this checkout started is reused; anything else on the port is an error.
# DEVSTACK_REDIS_DIR moves its pid file, log and working directory (the tests use their own).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REDIS_HOST="127.0.0.1"
REDIS_PORT="${DEVSTACK_REDIS_PORT:-6390}"
REDIS_DIR="${DEVSTACK_REDIS_DIR:-${DEVSTACK_STATE}/redis}"
REDIS_PIDFILE="${REDIS_DIR}/redis.pid"
REDIS_LOG="${REDIS_DIR}/redis.log"
REDIS_MARKER="redis-server ${REDIS_HOST}:${REDIS_PORT}"
REDIS_START_TIMEOUT="${DEVSTACK_REDIS_START_TIMEOUT:-20}"

redis_answers() {
    # PING in Redis's inline protocol; the answer is +PONG.
    timeout 2 bash -c "exec 3<>/dev/tcp/${REDIS_HOST}/${REDIS_PORT}; printf 'PING\r\n' >&3; head -c 5 <&3" 2>/dev/null |
        grep -q PONG
}

start() {
    command -v redis-server >/dev/null 2>&1 ||
        devstack_die "redis: redis-server is not installed; run: make sysdeps (or: sudo apt-get install -y redis-server)"
    local pid
    if pid="$(devstack_live_pid "$REDIS_PIDFILE" "$REDIS_MARKER")"; then
        :
    elif devstack_port_open "$REDIS_HOST" "$REDIS_PORT"; then
        devstack_die "redis: port ${REDIS_PORT} is taken by a process this checkout did not start; stop it or set DEVSTACK_REDIS_PORT"
    else
        mkdir -p "$REDIS_DIR"
        # The pid file is devstack_spawn's (the exec'd redis-server keeps the pid); Redis runs in
        # the foreground, so devstack_stop_pidfile's SIGTERM shuts it down cleanly.
        devstack_spawn "$REDIS_PIDFILE" "$REDIS_LOG" redis-server \
            --bind "$REDIS_HOST" --port "$REDIS_PORT" --dir "$REDIS_DIR" \
            --save "" --appendonly no --protected-mode yes --daemonize no
        pid="$(cat "$REDIS_PIDFILE")"
    fi
    local deadline=$((SECONDS + REDIS_START_TIMEOUT))
    until redis_answers; do
        if [[ ! -d "/proc/$pid" ]]; then
            devstack_tail "$REDIS_LOG"
            devstack_die "redis: exited during start-up; see ${REDIS_LOG}"
        fi
        if ((SECONDS >= deadline)); then
            devstack_tail "$REDIS_LOG"
            devstack_die "redis: no PONG on ${REDIS_HOST}:${REDIS_PORT} after ${REDIS_START_TIMEOUT}s; see ${REDIS_LOG}"
        fi
        sleep 0.1
    done
    devstack_say "redis: ready (pid $pid) on redis://${REDIS_HOST}:${REDIS_PORT}, log ${REDIS_LOG}"
}

stop() {
    devstack_stop_pidfile "$REDIS_PIDFILE" "$REDIS_MARKER" 10 "redis"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
