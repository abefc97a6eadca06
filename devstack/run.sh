#!/usr/bin/env bash
# The live demo (`make run`, after `make up`): create the topics, start the traffic simulator,
# `dagster dev` (webserver, daemon, code server) and, once it exists, the analytics dashboard;
# stay in the foreground until Ctrl-C, then stop everything this script started.
#
# Ctrl-C (SIGINT), SIGTERM or SIGHUP stop everything within DEVSTACK_RUN_STOP_TIMEOUT seconds
# (default 7): each child runs in its own process group, which first gets SIGINT (dagster dev
# shuts its services down cleanly), then SIGTERM, then SIGKILL. Anything that left its group is
# found by the DEVSTACK_RUN_ID marker in its environment. Kafka, PostgreSQL and the Slack stub
# keep running (`make down` stops them).
#
# Overrides: DAGSTER_WEBSERVER_PORT (3000), ANALYTICS_DASHBOARD_PORT (8501), DEVSTACK_DAGSTER_HOME
# (.devstack/dagster_home; it gets a fresh copy of dagster.yaml, PostgreSQL storage from the
# DAGSTER_PG_* variables).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${here}/env.sh"
source "${here}/lib.sh"
cd "$DEVSTACK_REPO"

[[ -x "$DEVSTACK_PYTHON" ]] || devstack_die "${DEVSTACK_PYTHON} is missing; run: make venv"
mkdir -p "$DEVSTACK_LOGS"

CLI="${DEVSTACK_REPO}/.venv/bin/analytics-pipeline"
WEB_HOST=127.0.0.1
WEB_PORT="${DAGSTER_WEBSERVER_PORT:-3000}"
DASHBOARD_PORT="${ANALYTICS_DASHBOARD_PORT:-8501}"
STOP_TIMEOUT="${DEVSTACK_RUN_STOP_TIMEOUT:-7}"
DAGSTER_HOME="${DEVSTACK_DAGSTER_HOME:-${DEVSTACK_STATE}/dagster_home}"
export DAGSTER_HOME

# Every process started from here inherits this marker, so the clean-up finds them all.
DEVSTACK_RUN_ID="run-$$-${RANDOM}${RANDOM}"
export DEVSTACK_RUN_ID

! devstack_port_open "$WEB_HOST" "$WEB_PORT" ||
    devstack_die "port ${WEB_PORT} is already in use (another make run?); stop it or set DAGSTER_WEBSERVER_PORT"

devstack_say "creating topics ${ANALYTICS_CLICKSTREAM_TOPIC} and ${ANALYTICS_BACKEND_TOPIC} (3 partitions each, if missing)"
"$DEVSTACK_PYTHON" "${here}/kafka_admin.py" --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" \
    create-topics "$ANALYTICS_CLICKSTREAM_TOPIC" "$ANALYTICS_BACKEND_TOPIC" --partitions 3 ||
    devstack_die "could not create the topics on ${KAFKA_BOOTSTRAP_SERVERS}; is the stack up (make up)?"

mkdir -p "$DAGSTER_HOME"
cp "${DEVSTACK_REPO}/dagster.yaml" "${DAGSTER_HOME}/dagster.yaml"

# Dagster's CLI loads a .env from its working directory OVER the environment, which would undo
# any variable the user set for this run (and a user's .env must rank below the environment,
# as env.sh already applied it). So dagster dev runs in DAGSTER_HOME, where there is no .env,
# with relative paths made absolute against the repository first. The code still loads from
# the repository: workspace.yaml's `working_directory: .` is relative to that file.
absolute() { [[ "$1" == /* || "$1" == *://* ]] && printf '%s' "$1" || printf '%s/%s' "$DEVSTACK_REPO" "$1"; }
ANALYTICS_REPORTS_DIR="$(absolute "$ANALYTICS_REPORTS_DIR")"
ANALYTICS_LAKE_DATA_PATH="$(absolute "$ANALYTICS_LAKE_DATA_PATH")"
export ANALYTICS_REPORTS_DIR ANALYTICS_LAKE_DATA_PATH
mkdir -p "$ANALYTICS_REPORTS_DIR"
[[ "$ANALYTICS_LAKE_DATA_PATH" == *://* ]] || mkdir -p "$ANALYTICS_LAKE_DATA_PATH"
[[ ! -e "${DAGSTER_HOME}/.env" ]] ||
    devstack_die "${DAGSTER_HOME}/.env exists; Dagster would load it over the environment. Remove it."

# --- children: "name pid" pairs; every pid leads its own process group -------------------

child_names=()
child_pids=()

# start_child NAME LOGFILE|- COMMAND...: run COMMAND in a new session (its own process group,
# so only this script decides when it stops). A non-interactive shell starts background
# commands with SIGINT ignored, and Dagster maps SIGTERM to whatever SIGINT does; `env
# --default-signal` gives the command the default handlers back, so it can be stopped.
start_child() {
    local name="$1" log="$2"
    shift 2
    if [[ "$log" == - ]]; then
        setsid env --default-signal=INT,TERM,HUP,PIPE "$@" </dev/null &
    else
        setsid env --default-signal=INT,TERM,HUP,PIPE "$@" </dev/null >>"$log" 2>&1 &
    fi
    child_names+=("$name")
    child_pids+=("$!")
}

# True while a live (not zombie) process belongs to one of our children's process groups.
groups_alive() {
    ((${#child_pids[@]})) || return 1
    ps -e -o pgid=,stat= 2>/dev/null | awk -v groups=" ${child_pids[*]} " '
        $2 !~ /^Z/ && index(groups, " " $1 " ") { found = 1; exit }
        END { exit !found }'
}

now_us() { printf '%s' "${EPOCHREALTIME//[.,]/}"; }

# Pids of live processes whose environment carries our marker. (This script's own environ is
# the one it started with, before the marker; grep itself runs without it.)
marked_pids() {
    local file
    for file in $(env -u DEVSTACK_RUN_ID grep -lzxF "DEVSTACK_RUN_ID=${DEVSTACK_RUN_ID}" /proc/[0-9]*/environ 2>/dev/null); do
        file="${file#/proc/}"
        printf '%s\n' "${file%/environ}"
    done
}

anything_alive() {
    groups_alive || [[ -n "$(marked_pids)" ]]
}

# SIGINT goes to dagster dev alone, which stops its webserver and daemon before their code
# server (the whole group at once has the daemon's sensors fail on a vanished code server);
# every other signal, and SIGINT for the other children, goes to the whole process group.
signal_all() {
    local sig="$1" i pid
    for i in "${!child_pids[@]}"; do
        pid="${child_pids[$i]}"
        if [[ "$sig" == INT && "${child_names[$i]}" == dagster-dev ]]; then
            kill -INT "$pid" 2>/dev/null || true
        else
            kill "-${sig}" -- "-${pid}" 2>/dev/null || true
        fi
    done
    if [[ "$sig" == KILL ]]; then
        for pid in $(marked_pids); do kill -KILL "$pid" 2>/dev/null || true; done
    fi
}

# Wait until nothing we started is alive, for at most $1 seconds of wall-clock time.
wait_all_gone() {
    local deadline=$(($(now_us) + $1 * 1000000))
    while anything_alive; do
        (($(now_us) < deadline)) || return 1
        sleep 0.1
    done
}

# One line per process still alive, for the messages: "pid command".
survivors() {
    local pid
    for pid in $(marked_pids); do
        printf '  %s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | cut -c1-110)"
    done
}

stopped=0
stop_everything() {
    ((stopped)) && return 0
    stopped=1
    trap '' INT TERM HUP # a second Ctrl-C must not cut the clean-up short
    set +e               # nor a failed message (`make run | tee log`: tee died with Ctrl-C)
    ((${#child_pids[@]})) || return 0
    anything_alive || return 0
    devstack_say "stopping ${child_names[*]} (at most ${STOP_TIMEOUT}s)"
    # SIGINT is what Ctrl-C means to every child; Dagster maps SIGTERM to the same handler, so
    # SIGTERM only helps the rest. A run worker finishes its step first; past the time left it
    # is killed (ingest resumes exactly-once from the ledger).
    local int_wait=$((STOP_TIMEOUT - 3))
    ((int_wait >= 1)) || int_wait=1
    signal_all INT
    wait_all_gone "$int_wait" && { devstack_say "stopped"; return 0; }
    devstack_say "still running after ${int_wait}s, sending SIGTERM:"
    survivors
    signal_all TERM
    wait_all_gone 1 && { devstack_say "stopped"; return 0; }
    devstack_warn "still running after $((int_wait + 1))s; sending SIGKILL"
    signal_all KILL
    wait_all_gone 1 && { devstack_say "stopped"; return 0; }
    devstack_warn "could not stop:"
    survivors >&2
}

signal_received=""
# Writing to a closed pipe (`make run | tee`, tee stopped by the same Ctrl-C) must fail the
# write, not kill this script before it has stopped the children.
trap '' PIPE
trap 'signal_received=INT' INT
trap 'signal_received=TERM' TERM
trap 'signal_received=HUP' HUP
trap stop_everything EXIT

# --- the simulator ---------------------------------------------------------------------------

simulator_log="${DEVSTACK_LOGS}/simulator.log"
seed="$RANDOM"
printf '\n=== %s simulate --live, seed %s ===\n' "$(date -Is)" "$seed" >>"$simulator_log"
start_child simulator "$simulator_log" \
    "$CLI" simulate --users 100 --days 7 --seed "$seed" --live --rate 5
simulator_pid="${child_pids[-1]}"

# --- the dashboard (issue 11, `analytics-pipeline dashboard`) --------------------------------
# Started only once the CLI has the command; stopped with everything else by stop_everything.
dashboard_log="${DEVSTACK_LOGS}/dashboard.log"
dashboard_line="devstack: dashboard:          not available yet (no \`analytics-pipeline dashboard\`)"
if "$CLI" dashboard --help >/dev/null 2>&1; then
    printf '\n=== %s dashboard on port %s ===\n' "$(date -Is)" "$DASHBOARD_PORT" >>"$dashboard_log"
    start_child dashboard "$dashboard_log" "$CLI" dashboard --host 127.0.0.1 --port "$DASHBOARD_PORT"
    dashboard_line="devstack: dashboard:          http://127.0.0.1:${DASHBOARD_PORT}/ (log ${dashboard_log})"
fi
# --- end of the dashboard ------------------------------------------------------------------

# --- dagster dev (webserver, daemon, code server), output on this terminal ------------------
# Dagster 1.13 says at every start that `dagster dev` is superseded by `dg dev` (the dg CLI
# is not part of this project); that one message is silenced, the user's filters kept.
dev_warnings="ignore:Function \`dev_command\` is superseded${PYTHONWARNINGS:+,${PYTHONWARNINGS}}"
(cd "$DAGSTER_HOME" && exec setsid env --default-signal=INT,TERM,HUP,PIPE \
    PYTHONWARNINGS="$dev_warnings" "${DEVSTACK_REPO}/.venv/bin/dagster" dev -w "${DEVSTACK_REPO}/workspace.yaml" \
    -h "$WEB_HOST" -p "$WEB_PORT") </dev/null &
child_names+=("dagster-dev")
child_pids+=("$!")
dagster_pid="$!"

sleep 1
if ! kill -0 "$simulator_pid" 2>/dev/null; then
    devstack_tail "$simulator_log" 15
    devstack_warn "the simulator exited at once; see ${simulator_log}. Dagster starts anyway."
fi

cat <<MSG
devstack: simulator: live traffic (seed ${seed}, pid ${simulator_pid}), log ${simulator_log}
devstack: Dagster UI:         http://${WEB_HOST}:${WEB_PORT}
${dashboard_line}
devstack: Slack stub page:    http://127.0.0.1:${DEVSTACK_SLACK_PORT:-8765}/
devstack: DAGSTER_HOME:       ${DAGSTER_HOME}
devstack: stop with Ctrl-C (Kafka, PostgreSQL and the Slack stub keep running; make down stops them)
MSG

# `wait` returns when dagster dev exits or as soon as a trapped signal arrives.
status=0
while [[ -z "$signal_received" ]]; do
    if wait "$dagster_pid"; then
        status=0
    else
        status=$?
    fi
    [[ -n "$signal_received" ]] && break
    kill -0 "$dagster_pid" 2>/dev/null || break
done

if [[ -n "$signal_received" ]]; then
    devstack_say "received SIG${signal_received}"
    stop_everything
    case "$signal_received" in
    INT) exit 130 ;;
    HUP) exit 129 ;;
    *) exit 143 ;;
    esac
fi
devstack_warn "dagster dev exited with status ${status}"
stop_everything
exit "$status"
