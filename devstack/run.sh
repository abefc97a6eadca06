#!/usr/bin/env bash
# The live demo (`make run`, after `make up`): create the topics, start the simulator in live
# mode in the background, then run `dagster dev` in the foreground until Ctrl-C.
#
# The Dagster instance lives in .devstack/dagster_home with a fresh copy of the repository's
# dagster.yaml (PostgreSQL storage from the DAGSTER_PG_* variables). Stopping dagster dev also
# stops the simulator; Kafka, PostgreSQL and the Slack stub keep running (`make down`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${here}/env.sh"
source "${here}/lib.sh"
cd "$DEVSTACK_REPO"

[[ -x "$DEVSTACK_PYTHON" ]] || devstack_die "${DEVSTACK_PYTHON} is missing; run: make venv"
mkdir -p "$DEVSTACK_LOGS"

devstack_say "creating topics ${ANALYTICS_CLICKSTREAM_TOPIC} and ${ANALYTICS_BACKEND_TOPIC} (3 partitions each, if missing)"
"$DEVSTACK_PYTHON" "${here}/kafka_admin.py" --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" \
    create-topics "$ANALYTICS_CLICKSTREAM_TOPIC" "$ANALYTICS_BACKEND_TOPIC" --partitions 3 ||
    devstack_die "could not create the topics on ${KAFKA_BOOTSTRAP_SERVERS}; is the stack up (make up)?"

DAGSTER_HOME="${DEVSTACK_STATE}/dagster_home"
export DAGSTER_HOME
mkdir -p "$DAGSTER_HOME"
cp "${DEVSTACK_REPO}/dagster.yaml" "${DAGSTER_HOME}/dagster.yaml"

simulator_log="${DEVSTACK_LOGS}/simulator.log"
seed="$RANDOM"
printf '\n=== %s simulate --live, seed %s ===\n' "$(date -Is)" "$seed" >>"$simulator_log"
"${DEVSTACK_REPO}/.venv/bin/analytics-pipeline" simulate --users 100 --days 7 --seed "$seed" \
    --live --rate 5 >>"$simulator_log" 2>&1 </dev/null &
simulator_pid=$!

stop_simulator() {
    if kill -0 "$simulator_pid" 2>/dev/null; then
        devstack_say "stopping the simulator (pid ${simulator_pid})"
        kill -TERM "$simulator_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$simulator_pid" 2>/dev/null || return 0
            sleep 0.1
        done
        kill -KILL "$simulator_pid" 2>/dev/null || true
    fi
}
trap stop_simulator EXIT

sleep 1
if ! kill -0 "$simulator_pid" 2>/dev/null; then
    devstack_tail "$simulator_log" 15
    devstack_warn "the simulator exited at once; see ${simulator_log}. Dagster starts anyway."
fi

cat <<MSG
devstack: simulator: live traffic (seed ${seed}, pid ${simulator_pid}), log ${simulator_log}
devstack: Dagster UI:         http://127.0.0.1:3000
devstack: Slack stub page:    http://127.0.0.1:8765/
devstack: DAGSTER_HOME:       ${DAGSTER_HOME}
devstack: stop with Ctrl-C (Kafka, PostgreSQL and the Slack stub keep running; make down stops them)
MSG

# Dagster's CLI loads a .env from its working directory OVER the environment, which would undo
# any variable the user set for this run. So dagster dev runs in DAGSTER_HOME (no .env there),
# with the relative paths of .env made absolute against the repository first. The code still
# loads from the repository: workspace.yaml's `working_directory: .` is relative to that file.
absolute() { [[ "$1" == /* ]] && printf '%s' "$1" || printf '%s/%s' "$DEVSTACK_REPO" "$1"; }
ANALYTICS_DUCKDB_PATH="$(absolute "$ANALYTICS_DUCKDB_PATH")"
ANALYTICS_REPORTS_DIR="$(absolute "$ANALYTICS_REPORTS_DIR")"
export ANALYTICS_DUCKDB_PATH ANALYTICS_REPORTS_DIR
mkdir -p "$(dirname "$ANALYTICS_DUCKDB_PATH")" "$ANALYTICS_REPORTS_DIR"

status=0
(cd "$DAGSTER_HOME" &&
    "${DEVSTACK_REPO}/.venv/bin/dagster" dev -w "${DEVSTACK_REPO}/workspace.yaml" \
        -h 127.0.0.1 -p 3000) || status=$?
exit "$status"
