#!/usr/bin/env bash
# PostgreSQL for the Dagster instance: `bash devstack/postgres.sh start|stop`.
#
# `start` uses whatever already answers on DAGSTER_PG_HOST:DAGSTER_PG_PORT; otherwise it starts
# the machine's Debian cluster for that port (pg_ctlcluster), or, when there is none, a private
# cluster under .devstack/postgres. Either way it listens on 127.0.0.1 only. Then it makes sure
# the role DAGSTER_PG_USERNAME (LOGIN, CREATEDB, password DAGSTER_PG_PASSWORD) and the database
# DAGSTER_PG_DB exist, and so does the DuckLake catalog database named by ANALYTICS_LAKE_CATALOG
# (owned by the role named there, password ANALYTICS_LAKE_PASSWORD), with English server
# messages (lc_messages): DuckLake's retry tells conflicts apart by their English text.
# `stop` stops the server only if `start` started it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_HOST="${DAGSTER_PG_HOST:-127.0.0.1}"
PG_PORT="${DAGSTER_PG_PORT:-5432}"
PG_USER="${DAGSTER_PG_USERNAME:-dagster}"
PG_DB="${DAGSTER_PG_DB:-dagster}"
PG_VERSION="${DEVSTACK_PG_VERSION:-15}"
PG_BIN="/usr/lib/postgresql/${PG_VERSION}/bin"
PG_STARTED="${DEVSTACK_PIDS}/postgres.started" # how `start` started it, for `stop`
PG_PRIVATE="${DEVSTACK_STATE}/postgres"
PG_START_TIMEOUT="${DEVSTACK_PG_START_TIMEOUT:-60}"
export DAGSTER_PG_USERNAME="$PG_USER" DAGSTER_PG_DB="$PG_DB"
export DAGSTER_PG_PASSWORD="${DAGSTER_PG_PASSWORD:-dagster}"

pg_answers() {
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1
}

is_local_host() {
    [[ "$PG_HOST" == "127.0.0.1" || "$PG_HOST" == "localhost" ]]
}

# "version name" of the Debian cluster configured for our port, if any.
debian_cluster() {
    command -v pg_lsclusters >/dev/null 2>&1 || return 1
    pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }' | grep .
}

# Run a command as the user owning the server's files (root cannot run postgres).
as_pg_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

start_debian_cluster() {
    local version="$1" name="$2"
    [[ "$(id -u)" == 0 ]] || devstack_die "postgres: cluster ${version}/${name} is down; start it with: sudo pg_ctlcluster ${version} ${name} start"
    devstack_say "postgres: starting the machine's cluster ${version}/${name} on 127.0.0.1:${PG_PORT}"
    pg_ctlcluster "$version" "$name" start -- -o "-c listen_addresses=127.0.0.1" ||
        devstack_die "postgres: pg_ctlcluster ${version} ${name} start failed; see /var/log/postgresql/postgresql-${version}-${name}.log"
    mkdir -p "$DEVSTACK_PIDS"
    echo "debian ${version} ${name}" >"$PG_STARTED"
}

start_private_cluster() {
    [[ -x "${PG_BIN}/initdb" ]] || devstack_die "postgres: no PostgreSQL ${PG_VERSION} server found; install it with: apt-get install -y postgresql-${PG_VERSION}"
    mkdir -p "${PG_PRIVATE}/run" "$DEVSTACK_LOGS"
    if [[ "$(id -u)" == 0 ]]; then
        chown -R postgres: "$PG_PRIVATE"
        runuser -u postgres -- test -w "$PG_PRIVATE" ||
            devstack_die "postgres: user postgres cannot write ${PG_PRIVATE} (a parent folder is private); start PostgreSQL yourself or move the clone"
    fi
    if [[ ! -f "${PG_PRIVATE}/data/PG_VERSION" ]]; then
        devstack_say "postgres: creating a private cluster in ${PG_PRIVATE}/data"
        as_pg_owner "${PG_BIN}/initdb" -D "${PG_PRIVATE}/data" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"${DEVSTACK_LOGS}/postgres-initdb.log" 2>&1 ||
            devstack_die "postgres: initdb failed; see ${DEVSTACK_LOGS}/postgres-initdb.log"
    fi
    devstack_say "postgres: starting the private cluster on 127.0.0.1:${PG_PORT}"
    touch "${DEVSTACK_LOGS}/postgres.log"
    [[ "$(id -u)" == 0 ]] && chown postgres: "${DEVSTACK_LOGS}/postgres.log"
    as_pg_owner "${PG_BIN}/pg_ctl" -D "${PG_PRIVATE}/data" -l "${DEVSTACK_LOGS}/postgres.log" -w start \
        -o "-c listen_addresses=127.0.0.1 -c port=${PG_PORT} -c unix_socket_directories=${PG_PRIVATE}/run" ||
        devstack_die "postgres: pg_ctl start failed; see ${DEVSTACK_LOGS}/postgres.log"
    mkdir -p "$DEVSTACK_PIDS"
    echo "private" >"$PG_STARTED"
}

wait_ready() {
    local deadline=$((SECONDS + PG_START_TIMEOUT))
    until pg_answers; do
        ((SECONDS < deadline)) || devstack_die "postgres: no answer on ${PG_HOST}:${PG_PORT} after ${PG_START_TIMEOUT}s"
        sleep 0.3
    done
}

# psql as a superuser of the server we started (or of the machine's cluster).
superuser_psql() {
    local cluster socket_dir
    if [[ -d "${PG_PRIVATE}/run" ]] && [[ "$(cat "$PG_STARTED" 2>/dev/null)" == private ]]; then
        socket_dir="${PG_PRIVATE}/run"
    else
        socket_dir="/var/run/postgresql"
    fi
    as_pg_owner psql -X -q -h "$socket_dir" -p "$PG_PORT" -U postgres -d postgres "$@"
}

role_and_db_ready() {
    [[ "$(PGPASSWORD="$DAGSTER_PG_PASSWORD" psql -X -At -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" \
        -c "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user" 2>/dev/null)" == t ]]
}

ensure_role_and_db() {
    role_and_db_ready && return 0
    is_local_host || devstack_die "postgres: cannot log in to ${PG_HOST}:${PG_PORT}/${PG_DB} as ${PG_USER} (with CREATEDB); create the role and database there"
    devstack_say "postgres: creating role ${PG_USER} and database ${PG_DB}"
    # Values come from the environment through \getenv, so nothing is spliced into SQL text
    # and the password never appears on a command line.
    superuser_psql -v ON_ERROR_STOP=1 <<'SQL' || devstack_die "postgres: could not create the role/database as the postgres superuser"
\getenv pg_user DAGSTER_PG_USERNAME
\getenv pg_pass DAGSTER_PG_PASSWORD
\getenv pg_db DAGSTER_PG_DB
SELECT format('CREATE ROLE %I', :'pg_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'pg_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB PASSWORD %L', :'pg_user', :'pg_pass') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'pg_db', :'pg_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'pg_db') \gexec
SQL
    role_and_db_ready || devstack_die "postgres: role ${PG_USER} still cannot log in to ${PG_DB} on ${PG_HOST}:${PG_PORT}"
}

# --- the lake's catalog database (ANALYTICS_LAKE_CATALOG) -----------------------------------

LAKE_CATALOG="${ANALYTICS_LAKE_CATALOG-postgres:dbname=analytics_lake host=127.0.0.1 port=5432 user=dagster}"
declare -A LAKE=()

# Parse the libpq key=value string after `postgres:` into LAKE (values bare or 'quoted').
parse_lake_catalog() {
    local rest="${LAKE_CATALOG#postgres:}" value
    [[ "$LAKE_CATALOG" == postgres:* ]] || return 1
    while :; do
        rest="${rest#"${rest%%[![:space:]]*}"}"
        [[ -n "$rest" ]] || break
        if [[ "$rest" =~ ^([A-Za-z_]+)[[:space:]]*=[[:space:]]*\'(([^\'\\]|\\.)*)\'(.*)$ ]]; then
            value="${BASH_REMATCH[2]}"
            LAKE["${BASH_REMATCH[1]}"]="${value//\\\'/\'}"
            rest="${BASH_REMATCH[4]}"
        elif [[ "$rest" =~ ^([A-Za-z_]+)[[:space:]]*=[[:space:]]*([^[:space:]]*)(.*)$ ]]; then
            LAKE["${BASH_REMATCH[1]}"]="${BASH_REMATCH[2]}"
            rest="${BASH_REMATCH[3]}"
        else
            devstack_die "postgres: cannot parse ANALYTICS_LAKE_CATALOG near '${rest}'; expected postgres:dbname=... host=... port=... user=..."
        fi
    done
}

same_server() {
    local a="${LAKE[host]}" b="$PG_HOST"
    [[ "$a" == localhost ]] && a=127.0.0.1
    [[ "$b" == localhost ]] && b=127.0.0.1
    [[ "$a" == "$b" && "${LAKE[port]}" == "$PG_PORT" ]]
}

# Messages in English: C, POSIX or en_*.
english_messages() { [[ "$1" =~ ^(C|POSIX|en)([._].*)?$ ]]; }

# "owner|lc_messages" of the catalog database, as the lake role sees it; empty if it cannot log in.
lake_state() {
    PGPASSWORD="$ANALYTICS_LAKE_PASSWORD" psql -X -At -h "${LAKE[host]}" -p "${LAKE[port]}" \
        -U "${LAKE[user]}" -d "${LAKE[dbname]}" \
        -c "SELECT pg_get_userbyid(datdba) || '|' || current_setting('lc_messages') FROM pg_database WHERE datname = current_database()" 2>/dev/null || true
}

lake_ready() {
    local state
    state="$(lake_state)"
    [[ "${state%%|*}" == "${LAKE[user]}" ]] && english_messages "${state#*|}"
}

ensure_lake_db() {
    if ! parse_lake_catalog; then
        devstack_warn "postgres: ANALYTICS_LAKE_CATALOG is not a postgres: catalog; no catalog database created"
        return 0
    fi
    [[ -n "${LAKE[dbname]:-}" ]] || devstack_die "postgres: ANALYTICS_LAKE_CATALOG names no dbname"
    [[ -z "${LAKE[password]:-}" ]] ||
        devstack_warn "postgres: ANALYTICS_LAKE_CATALOG contains a password; put it in ANALYTICS_LAKE_PASSWORD instead"
    LAKE[host]="${LAKE[host]:-$PG_HOST}"
    LAKE[port]="${LAKE[port]:-5432}"
    LAKE[user]="${LAKE[user]:-$PG_USER}"
    export ANALYTICS_LAKE_PASSWORD="${ANALYTICS_LAKE_PASSWORD:-$DAGSTER_PG_PASSWORD}"
    local where="${LAKE[dbname]} on ${LAKE[host]}:${LAKE[port]} for role ${LAKE[user]}"
    lake_ready && { devstack_say "postgres: lake catalog ready, database ${where}"; return 0; }

    if ! same_server || ! is_local_host; then
        [[ -n "$(lake_state)" ]] ||
            devstack_die "postgres: cannot log in to the lake catalog ${where} (ANALYTICS_LAKE_CATALOG, ANALYTICS_LAKE_PASSWORD); create that database there"
        devstack_die "postgres: the lake catalog ${where} is not owned by ${LAKE[user]} or its lc_messages is not English; DuckLake needs both (ALTER DATABASE ... OWNER TO ...; ALTER DATABASE ... SET lc_messages = 'C')"
    fi
    if [[ "${LAKE[user]}" == "$PG_USER" && "$ANALYTICS_LAKE_PASSWORD" != "$DAGSTER_PG_PASSWORD" ]]; then
        devstack_die "postgres: ANALYTICS_LAKE_CATALOG uses role ${PG_USER} like DAGSTER_PG_USERNAME, but ANALYTICS_LAKE_PASSWORD differs from DAGSTER_PG_PASSWORD; one role has one password"
    fi
    devstack_say "postgres: creating the lake catalog database ${where}"
    # As for the Dagster role: values through \getenv, nothing spliced into SQL, no password on
    # a command line. The role's password is set only when this creates the role.
    LAKE_DB="${LAKE[dbname]}" LAKE_USER="${LAKE[user]}" superuser_psql -v ON_ERROR_STOP=1 <<'SQL' ||
\getenv lake_user LAKE_USER
\getenv lake_pass ANALYTICS_LAKE_PASSWORD
\getenv lake_db LAKE_DB
SELECT format('CREATE ROLE %I WITH LOGIN PASSWORD %L', :'lake_user', :'lake_pass')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'lake_user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'lake_db', :'lake_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'lake_db') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'lake_db', :'lake_user') \gexec
SELECT format('ALTER DATABASE %I SET lc_messages = %L', :'lake_db', 'C') \gexec
SQL
        devstack_die "postgres: could not create the lake catalog database as the postgres superuser"
    lake_ready || devstack_die "postgres: role ${LAKE[user]} still cannot use the lake catalog ${where} (check ANALYTICS_LAKE_PASSWORD)"
    devstack_say "postgres: lake catalog ready, database ${where}"
}

start() {
    if pg_answers; then
        devstack_say "postgres: answering on ${PG_HOST}:${PG_PORT}"
    else
        is_local_host || devstack_die "postgres: nothing answers on ${PG_HOST}:${PG_PORT} (DAGSTER_PG_HOST is not local, so nothing is started)"
        local cluster
        if cluster="$(debian_cluster)"; then
            # shellcheck disable=SC2086  # "version name"
            start_debian_cluster $cluster
        else
            start_private_cluster
        fi
        wait_ready
    fi
    ensure_role_and_db
    devstack_say "postgres: ready, database ${PG_DB} for role ${PG_USER} on ${PG_HOST}:${PG_PORT}"
    ensure_lake_db
}

stop() {
    local how
    how="$(cat "$PG_STARTED" 2>/dev/null || true)"
    case "$how" in
    debian\ *)
        # shellcheck disable=SC2086
        set -- $how
        devstack_say "postgres: stopping cluster $2/$3"
        pg_ctlcluster "$2" "$3" stop || devstack_warn "postgres: pg_ctlcluster $2 $3 stop failed"
        ;;
    private)
        devstack_say "postgres: stopping the private cluster"
        as_pg_owner "${PG_BIN}/pg_ctl" -D "${PG_PRIVATE}/data" -m fast -w stop ||
            devstack_warn "postgres: pg_ctl stop failed"
        ;;
    *)
        devstack_say "postgres: not started by this checkout; left alone"
        ;;
    esac
    rm -f "$PG_STARTED"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
