# Sourced by the devstack scripts: messages, pid files, waiting. Needs env.sh first.

devstack_say() { printf 'devstack: %s\n' "$*"; }
devstack_warn() { printf 'devstack: WARNING: %s\n' "$*" >&2; }
devstack_die() {
    printf 'devstack: ERROR: %s\n' "$*" >&2
    exit 1
}

# True when something accepts TCP connections on host:port (bash's /dev/tcp, no tools needed).
devstack_port_open() {
    local host="$1" port="$2"
    timeout 2 bash -c "exec 3<>/dev/tcp/${host}/${port}" 2>/dev/null
}

# Print the pid stored in a pid file if that process is alive and its command line
# contains the marker (so a recycled pid of an unrelated process is not mistaken for ours).
devstack_live_pid() {
    local pidfile="$1" marker="$2" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/${pid}/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -qF -- "$marker" || return 1
    printf '%s\n' "$pid"
}

# Start a command detached from the caller's session (Ctrl-C in `make run` must not reach it,
# and a test runner capturing our output must not wait on it); the process writes its own pid.
devstack_spawn() {
    local pidfile="$1" logfile="$2"
    shift 2
    mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
    rm -f "$pidfile"
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null &
    local i
    for i in $(seq 1 50); do
        [[ -s "$pidfile" ]] && return 0
        sleep 0.1
    done
    devstack_die "could not start $1 (no pid file $pidfile); see $logfile"
}

# SIGTERM the process (and its process group), wait up to $3 seconds, then SIGKILL.
devstack_stop_pidfile() {
    local pidfile="$1" marker="$2" grace="${3:-30}" name="${4:-process}" pid i
    if ! pid="$(devstack_live_pid "$pidfile" "$marker")"; then
        rm -f "$pidfile"
        devstack_say "$name: not running"
        return 0
    fi
    devstack_say "$name: stopping pid $pid"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        [[ -d "/proc/$pid" ]] || break
        sleep 0.1
    done
    if [[ -d "/proc/$pid" ]]; then
        devstack_warn "$name: pid $pid still alive after ${grace}s, sending SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    devstack_say "$name: stopped"
}

# Show the end of a log file on stderr, for error messages.
devstack_tail() {
    local logfile="$1" lines="${2:-30}"
    if [[ -f "$logfile" ]]; then
        printf -- '----- last %s lines of %s -----\n' "$lines" "$logfile" >&2
        tail -n "$lines" "$logfile" >&2
        printf -- '-----\n' >&2
    fi
}
