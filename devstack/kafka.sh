#!/usr/bin/env bash
# The local Kafka broker: `bash devstack/kafka.sh start|stop`.
#
# Apache Kafka 4.x in KRaft mode (one node is broker and controller) from the official jars on
# Maven Central, fetched once by `mvn dependency:copy-dependencies` (devstack/kafka/pom.xml) into
# .devstack/kafka/libs. Data and logs live under .devstack/kafka; it listens on 127.0.0.1 only.
# If a Kafka broker already answers on the port (another clone's stack, or your own), it is used
# as is and `stop` leaves it alone.
#
# DEVSTACK_KAFKA_HEAP_OPTS (default "-Xms256m -Xmx1g") holds the broker's JVM flags. A broker
# started for tests alone (a CI machine) may take "-Xms64m -Xmx256m -XX:TieredStopAtLevel=1":
# measured side by side over ingest/test_ingest.py (docs/test-profile.md) it used 21 CPU-s
# instead of 29 (start-up included) and 366 MB instead of 398, for the same wall time. `make
# test` does not set it: the broker it starts is the one a later `make run` reuses.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_HOME="${DEVSTACK_STATE}/kafka"
KAFKA_LIBS="${KAFKA_HOME}/libs"
KAFKA_DATA="${KAFKA_HOME}/data"
KAFKA_LOG_DIR="${DEVSTACK_LOGS}/kafka"
KAFKA_PIDFILE="${DEVSTACK_PIDS}/kafka.pid"
KAFKA_CONTROLLER_PORT="${DEVSTACK_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${DEVSTACK_KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
KAFKA_START_TIMEOUT="${DEVSTACK_KAFKA_START_TIMEOUT:-90}"
KAFKA_MARKER="kafka.Kafka"

# The first entry of KAFKA_BOOTSTRAP_SERVERS decides where the local broker listens.
first_server="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}"
first_server="${first_server%%,*}"
KAFKA_HOST="${first_server%:*}"
KAFKA_PORT="${first_server##*:}"

is_local_bootstrap() {
    [[ "$KAFKA_HOST" == "127.0.0.1" || "$KAFKA_HOST" == "localhost" ]]
}

# Ask the broker for cluster metadata through kafka-python (the client the pipeline uses).
kafka_answers() {
    local timeout="${1:-10}"
    if [[ ! -x "$DEVSTACK_PYTHON" ]]; then
        devstack_port_open "$KAFKA_HOST" "$KAFKA_PORT"
        return
    fi
    "$DEVSTACK_PYTHON" "${DEVSTACK_REPO}/devstack/kafka_admin.py" \
        --bootstrap "${KAFKA_HOST}:${KAFKA_PORT}" ready --timeout "$timeout" >/dev/null 2>&1
}

need_tools() {
    command -v java >/dev/null 2>&1 ||
        devstack_die "java not found; install it with: apt-get install -y openjdk-17-jre-headless maven"
    if [[ ! -f "${KAFKA_LIBS}/.complete" ]]; then
        command -v mvn >/dev/null 2>&1 ||
            devstack_die "mvn not found; install it with: apt-get install -y openjdk-17-jre-headless maven"
    fi
}

fetch_jars() {
    [[ -f "${KAFKA_LIBS}/.complete" ]] && return 0
    devstack_say "kafka: fetching the broker jars from Maven Central (once; cached in ${KAFKA_LIBS})"
    rm -rf "$KAFKA_LIBS"
    mkdir -p "$KAFKA_LIBS" "$DEVSTACK_LOGS"
    if ! mvn -q -B -f "${DEVSTACK_REPO}/devstack/kafka/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >"${DEVSTACK_LOGS}/kafka-mvn.log" 2>&1; then
        devstack_tail "${DEVSTACK_LOGS}/kafka-mvn.log"
        devstack_die "kafka: mvn could not fetch the jars; see ${DEVSTACK_LOGS}/kafka-mvn.log"
    fi
    touch "${KAFKA_LIBS}/.complete"
}

render_config() {
    mkdir -p "$KAFKA_DATA" "$KAFKA_LOG_DIR"
    sed -e "s|@BROKER_PORT@|${KAFKA_PORT}|g" \
        -e "s|@CONTROLLER_PORT@|${KAFKA_CONTROLLER_PORT}|g" \
        -e "s|@DATA_DIR@|${KAFKA_DATA}|g" \
        "${DEVSTACK_REPO}/devstack/kafka/server.properties.template" >"${KAFKA_HOME}/server.properties"
}

java_cmd() {
    # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS holds several flags on purpose
    printf '%s\n' java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=${DEVSTACK_REPO}/devstack/kafka/log4j2.yaml" \
        "-Dkafka.logs.dir=${KAFKA_LOG_DIR}" \
        -cp "${KAFKA_LIBS}/*"
}

format_storage() {
    [[ -f "${KAFKA_DATA}/meta.properties" ]] && return 0
    local cluster_id_file="${KAFKA_HOME}/cluster.id" cluster_id
    local -a java
    mapfile -t java < <(java_cmd)
    if [[ ! -s "$cluster_id_file" ]]; then
        "${java[@]}" kafka.tools.StorageTool random-uuid 2>>"${KAFKA_LOG_DIR}/format.log" |
            tail -n 1 >"$cluster_id_file"
    fi
    cluster_id="$(cat "$cluster_id_file")"
    devstack_say "kafka: formatting storage (cluster id ${cluster_id})"
    if ! "${java[@]}" kafka.tools.StorageTool format --standalone -g -t "$cluster_id" \
        -c "${KAFKA_HOME}/server.properties" >>"${KAFKA_LOG_DIR}/format.log" 2>&1; then
        devstack_tail "${KAFKA_LOG_DIR}/format.log"
        devstack_die "kafka: formatting the storage failed; see ${KAFKA_LOG_DIR}/format.log"
    fi
}

wait_ready() {
    local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if [[ ! -d "/proc/$pid" ]]; then
            devstack_tail "${KAFKA_LOG_DIR}/server.log"
            devstack_tail "${KAFKA_LOG_DIR}/kafka.out"
            devstack_die "kafka: the broker exited during start-up; see ${KAFKA_LOG_DIR}/server.log"
        fi
        if devstack_port_open "$KAFKA_HOST" "$KAFKA_PORT" && kafka_answers 5; then
            return 0
        fi
        sleep 0.5
    done
    devstack_tail "${KAFKA_LOG_DIR}/server.log"
    devstack_die "kafka: no answer on ${KAFKA_HOST}:${KAFKA_PORT} after ${KAFKA_START_TIMEOUT}s; see ${KAFKA_LOG_DIR}/server.log"
}

start() {
    if ! is_local_bootstrap; then
        devstack_say "kafka: KAFKA_BOOTSTRAP_SERVERS points at ${KAFKA_BOOTSTRAP_SERVERS}; not starting a local broker"
        return 0
    fi
    local pid
    if pid="$(devstack_live_pid "$KAFKA_PIDFILE" "$KAFKA_MARKER")"; then
        wait_ready "$pid"
        devstack_say "kafka: running (pid $pid) on ${KAFKA_HOST}:${KAFKA_PORT}"
        return 0
    fi
    if devstack_port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
        if kafka_answers 10; then
            devstack_say "kafka: a broker this checkout did not start already answers on ${KAFKA_HOST}:${KAFKA_PORT}; using it (down.sh leaves it running)"
            return 0
        fi
        devstack_die "kafka: port ${KAFKA_PORT} is taken by something that does not answer as Kafka; free it or set KAFKA_BOOTSTRAP_SERVERS"
    fi
    need_tools
    fetch_jars
    render_config
    format_storage
    local -a java
    mapfile -t java < <(java_cmd)
    devstack_say "kafka: starting on ${KAFKA_HOST}:${KAFKA_PORT} (controller ${KAFKA_CONTROLLER_PORT})"
    devstack_spawn "$KAFKA_PIDFILE" "${KAFKA_LOG_DIR}/kafka.out" \
        "${java[@]}" "$KAFKA_MARKER" "${KAFKA_HOME}/server.properties"
    pid="$(cat "$KAFKA_PIDFILE")"
    wait_ready "$pid"
    devstack_say "kafka: ready (pid $pid), log ${KAFKA_LOG_DIR}/server.log"
}

stop() {
    # A clean shutdown of the KRaft node can take a few seconds; give it 30.
    devstack_stop_pidfile "$KAFKA_PIDFILE" "$KAFKA_MARKER" 30 kafka
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
