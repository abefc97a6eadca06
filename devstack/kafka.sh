#!/usr/bin/env bash
# The local Kafka: `bash devstack/kafka.sh start|stop`.
#
# Apache Kafka 4.x in KRaft mode (every node is broker and controller) from the official jars on
# Maven Central, fetched once by `mvn dependency:copy-dependencies` (devstack/kafka/pom.xml) into
# .devstack/kafka/libs. It listens on 127.0.0.1 only. If a Kafka broker already answers on the
# port (another clone's stack, or your own), it is used as is and `stop` leaves it alone.
#
# DEVSTACK_KAFKA_BROKERS (default 1) is how many nodes: 3 starts a cluster, in parallel, whose
# node i listens on the first port of KAFKA_BOOTSTRAP_SERVERS + 2(i-1) and its controller on
# DEVSTACK_KAFKA_CONTROLLER_PORT (9093) + 2(i-1): 9092/9093, 9094/9095, 9096/9097. A cluster keeps
# its data in .devstack/kafka-cluster3 (a single node in .devstack/kafka), so switching back and
# forth keeps both; only one of them can run at a time on the same ports.
# DEVSTACK_KAFKA_HOME puts data, configuration, logs and pid files in that folder instead (the
# tests' own cluster); `stop` stops every node whose pid file is there.
#
# DEVSTACK_KAFKA_HEAP_OPTS holds each node's JVM flags (default "-Xms256m -Xmx1g", on a cluster
# "-Xms256m -Xmx384m" per node). A broker started for tests alone (a CI machine) may take
# "-Xms64m -Xmx256m -XX:TieredStopAtLevel=1": measured side by side over ingest/test_ingest.py
# (docs/test-profile.md) it used 21 CPU-s instead of 29 (start-up included) and 366 MB instead
# of 398, for the same wall time. `make test` does not set it: the broker it starts is the one a
# later `make run` reuses.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_LIBS="${DEVSTACK_STATE}/kafka/libs"
KAFKA_BROKERS="${DEVSTACK_KAFKA_BROKERS:-1}"
[[ "$KAFKA_BROKERS" =~ ^[1-9]$ ]] ||
    devstack_die "DEVSTACK_KAFKA_BROKERS must be a number of brokers from 1 to 9, got '${KAFKA_BROKERS}'"
if [[ -n "${DEVSTACK_KAFKA_HOME:-}" ]]; then
    KAFKA_HOME="$DEVSTACK_KAFKA_HOME"
    KAFKA_LOG_ROOT="${KAFKA_HOME}/logs"
    KAFKA_PID_ROOT="${KAFKA_HOME}/run"
else
    KAFKA_HOME="${DEVSTACK_STATE}/kafka"
    ((KAFKA_BROKERS == 1)) || KAFKA_HOME="${DEVSTACK_STATE}/kafka-cluster${KAFKA_BROKERS}"
    KAFKA_LOG_ROOT="$DEVSTACK_LOGS"
    KAFKA_PID_ROOT="$DEVSTACK_PIDS"
fi
KAFKA_CONTROLLER_PORT="${DEVSTACK_KAFKA_CONTROLLER_PORT:-9093}"
if ((KAFKA_BROKERS == 1)); then
    KAFKA_HEAP_OPTS="${DEVSTACK_KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
else
    KAFKA_HEAP_OPTS="${DEVSTACK_KAFKA_HEAP_OPTS:--Xms256m -Xmx384m}"
fi
KAFKA_START_TIMEOUT="${DEVSTACK_KAFKA_START_TIMEOUT:-90}"
KAFKA_MARKER="kafka.Kafka"

# The first entry of KAFKA_BOOTSTRAP_SERVERS decides where the local broker (node 1) listens.
first_server="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}"
first_server="${first_server%%,*}"
KAFKA_HOST="${first_server%:*}"
KAFKA_PORT="${first_server##*:}"

# Where node $1 (1-based) keeps what: a single node keeps the paths it always had.
broker_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); }
controller_port() { echo $((KAFKA_CONTROLLER_PORT + 2 * ($1 - 1))); }
node_dir() { if ((KAFKA_BROKERS == 1)); then echo "$KAFKA_HOME"; else echo "${KAFKA_HOME}/node-$1"; fi; }
node_log_dir() { if ((KAFKA_BROKERS == 1)); then echo "${KAFKA_LOG_ROOT}/kafka"; else echo "${KAFKA_LOG_ROOT}/kafka-node-$1"; fi; }
node_pidfile() { if ((KAFKA_BROKERS == 1)); then echo "${KAFKA_PID_ROOT}/kafka.pid"; else echo "${KAFKA_PID_ROOT}/kafka-node-$1.pid"; fi; }

all_brokers() {
    local i servers=()
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do servers+=("${KAFKA_HOST}:$(broker_port "$i")"); done
    (IFS=,; echo "${servers[*]}")
}

quorum() {
    local i voters=()
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do voters+=("${KAFKA_HOST}:$(controller_port "$i")"); done
    (IFS=,; echo "${voters[*]}")
}

is_local_bootstrap() {
    [[ "$KAFKA_HOST" == "127.0.0.1" || "$KAFKA_HOST" == "localhost" ]]
}

# Ask the brokers for cluster metadata through kafka-python (the client the pipeline uses); on
# a cluster, it must list every node.
kafka_answers() {
    local timeout="${1:-10}" bootstrap="${2:-$(all_brokers)}"
    if [[ ! -x "$DEVSTACK_PYTHON" ]]; then
        devstack_port_open "$KAFKA_HOST" "$KAFKA_PORT"
        return
    fi
    "$DEVSTACK_PYTHON" "${DEVSTACK_REPO}/devstack/kafka_admin.py" \
        --bootstrap "$bootstrap" ready --timeout "$timeout" --brokers "$KAFKA_BROKERS" >/dev/null 2>&1
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

# Node $1's server.properties, from the template, on stdout.
rendered_config() {
    local node="$1" dir replicas=1 min_isr=1
    local authorizer=org.apache.kafka.metadata.authorizer.StandardAuthorizer
    dir="$(node_dir "$node")"
    if ((KAFKA_BROKERS > 1)); then
        replicas=$((KAFKA_BROKERS < 3 ? KAFKA_BROKERS : 3))
        min_isr=$((replicas - 1))
        authorizer=""  # see the template: a cluster's quorum cannot start with it on PLAINTEXT
    fi
    sed -e "s|@NODE_ID@|${node}|g" \
        -e "s|@QUORUM@|$(quorum)|g" \
        -e "s|@BROKER_PORT@|$(broker_port "$node")|g" \
        -e "s|@CONTROLLER_PORT@|$(controller_port "$node")|g" \
        -e "s|@DATA_DIR@|${dir}/data|g" \
        -e "s|@REPLICAS@|${replicas}|g" \
        -e "s|@MIN_ISR@|${min_isr}|g" \
        -e "s|@AUTHORIZER@|${authorizer}|g" \
        "${DEVSTACK_REPO}/devstack/kafka/server.properties.template"
}

render_config() {
    local node="$1" dir
    dir="$(node_dir "$node")"
    mkdir -p "${dir}/data" "$(node_log_dir "$node")"
    rendered_config "$node" >"${dir}/server.properties"
}

# The settings of a server.properties on stdin, without comments and blank lines.
settings_only() { grep -Ev '^[[:space:]]*(#|$)' || true; }

# A node that runs keeps the configuration it started with: say so when the template's
# settings have changed since (e.g. the ACL authorizer the stream tests need), rather than fail
# a test later.
warn_if_config_changed() {
    local node="$1" file
    file="$(node_dir "$node")/server.properties"
    [[ -f "$file" ]] || return 0
    if ! cmp -s <(settings_only <"$file") <(rendered_config "$node" | settings_only); then
        devstack_warn "kafka: node ${node} runs with an older configuration than devstack/kafka/server.properties.template; restart it to apply the template (make down && make up)"
    fi
}

java_cmd() {
    local node="$1"
    # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS holds several flags on purpose
    printf '%s\n' java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=${DEVSTACK_REPO}/devstack/kafka/log4j2.yaml" \
        "-Dkafka.logs.dir=$(node_log_dir "$node")" \
        -cp "${KAFKA_LIBS}/*"
}

# A Kafka Uuid (16 random bytes, URL-safe base64 without padding; never starting with '-'),
# made without starting a JVM.
kafka_uuid() {
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
        [[ "$id" != -* ]] && break
    done
    printf '%s\n' "$id"
}

# Read or create a file holding one Uuid.
stored_uuid() {
    local file="$1"
    [[ -s "$file" ]] || kafka_uuid >"$file"
    cat "$file"
}

format_node() {
    local node="$1" cluster_id="$2" dir log
    dir="$(node_dir "$node")"
    log="$(node_log_dir "$node")/format.log"
    [[ -f "${dir}/data/meta.properties" ]] && return 0
    local -a java quorum_args
    mapfile -t java < <(java_cmd "$node")
    if ((KAFKA_BROKERS == 1)); then
        quorum_args=(--standalone)
    else
        local i voters=()
        for ((i = 1; i <= KAFKA_BROKERS; i++)); do
            voters+=("${i}@${KAFKA_HOST}:$(controller_port "$i"):$(stored_uuid "$(node_dir "$i")/directory.id")")
        done
        quorum_args=(--initial-controllers "$(IFS=,; echo "${voters[*]}")")
    fi
    if ! "${java[@]}" kafka.tools.StorageTool format "${quorum_args[@]}" -g -t "$cluster_id" \
        -c "${dir}/server.properties" >>"$log" 2>&1; then
        devstack_tail "$log"
        devstack_die "kafka: formatting the storage of node ${node} failed; see ${log}"
    fi
}

# Format every node not formatted yet, in parallel (each is a JVM start).
format_storage() {
    local node cluster_id pids=() failed=0
    mkdir -p "$KAFKA_HOME"
    # A cluster's nodes must agree on their number: refuse a home formatted for another count.
    local count_file="${KAFKA_HOME}/brokers"
    if [[ -s "$count_file" && "$(cat "$count_file")" != "$KAFKA_BROKERS" ]]; then
        devstack_die "kafka: ${KAFKA_HOME} holds a cluster of $(cat "$count_file") node(s), not ${KAFKA_BROKERS}; remove that folder (its topics are lost) or set DEVSTACK_KAFKA_BROKERS=$(cat "$count_file")"
    fi
    echo "$KAFKA_BROKERS" >"$count_file"
    cluster_id="$(stored_uuid "${KAFKA_HOME}/cluster.id")"
    for ((node = 1; node <= KAFKA_BROKERS; node++)); do
        [[ -f "$(node_dir "$node")/data/meta.properties" ]] && continue
        ((KAFKA_BROKERS > 1)) && stored_uuid "$(node_dir "$node")/directory.id" >/dev/null
    done
    for ((node = 1; node <= KAFKA_BROKERS; node++)); do
        [[ -f "$(node_dir "$node")/data/meta.properties" ]] && continue
        devstack_say "kafka: formatting the storage of node ${node} (cluster id ${cluster_id})"
        format_node "$node" "$cluster_id" &
        pids+=($!)
    done
    for node in "${pids[@]}"; do wait "$node" || failed=1; done
    ((failed == 0)) || devstack_die "kafka: formatting failed (see the messages above)"
}

node_alive() { devstack_live_pid "$(node_pidfile "$1")" "$KAFKA_MARKER"; }

# True when a node of this checkout's Kafka with another node count runs (any pid file here).
other_nodes_alive() {
    local pidfile
    for pidfile in "${KAFKA_PID_ROOT}/kafka.pid" "${KAFKA_PID_ROOT}"/kafka-node-*.pid; do
        [[ -e "$pidfile" ]] && devstack_live_pid "$pidfile" "$KAFKA_MARKER" >/dev/null && return 0
    done
    return 1
}

# Every node listens (a node just restarted may still be listed by the cluster's metadata
# until its session expires, so the listing alone proves nothing about it).
all_ports_open() {
    local node
    for ((node = 1; node <= KAFKA_BROKERS; node++)); do
        devstack_port_open "$KAFKA_HOST" "$(broker_port "$node")" || return 1
    done
}

# Wait until every node we run is alive, listens, and the cluster lists all of them.
wait_ready() {
    local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) node
    while ((SECONDS < deadline)); do
        for ((node = 1; node <= KAFKA_BROKERS; node++)); do
            if ! node_alive "$node" >/dev/null; then
                local logs
                logs="$(node_log_dir "$node")"
                devstack_tail "${logs}/server.log"
                devstack_tail "${logs}/kafka.out"
                devstack_die "kafka: node ${node} exited during start-up; see ${logs}/server.log"
            fi
        done
        if all_ports_open && kafka_answers 5; then
            return 0
        fi
        sleep 0.5
    done
    devstack_tail "$(node_log_dir 1)/server.log"
    devstack_die "kafka: no answer from $(all_brokers) after ${KAFKA_START_TIMEOUT}s; see $(node_log_dir 1)/server.log"
}

start() {
    if ! is_local_bootstrap; then
        devstack_say "kafka: KAFKA_BOOTSTRAP_SERVERS points at ${KAFKA_BOOTSTRAP_SERVERS}; not starting a local broker"
        return 0
    fi
    local node pid ours=0 missing=()
    for ((node = 1; node <= KAFKA_BROKERS; node++)); do
        if node_alive "$node" >/dev/null; then
            ours=$((ours + 1))
            warn_if_config_changed "$node"
        else
            missing+=("$node")
        fi
    done
    if ((ours == 0)) && devstack_port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
        if kafka_answers 10; then
            if other_nodes_alive; then
                devstack_say "kafka: this checkout's Kafka, started with another DEVSTACK_KAFKA_BROKERS, answers on ${KAFKA_HOST}:${KAFKA_PORT}; using it"
                return 0
            fi
            devstack_say "kafka: a broker this checkout did not start already answers on ${KAFKA_HOST}:${KAFKA_PORT}; using it (down.sh leaves it running)"
            return 0
        fi
        if ((KAFKA_BROKERS > 1)) && kafka_answers 10 "${KAFKA_HOST}:${KAFKA_PORT}"; then
            devstack_die "kafka: a broker that is not part of a ${KAFKA_BROKERS}-node cluster answers on ${KAFKA_HOST}:${KAFKA_PORT}; stop it (make down, with the same DEVSTACK_KAFKA_BROKERS it was started with) or set KAFKA_BOOTSTRAP_SERVERS to other ports"
        fi
        devstack_die "kafka: port ${KAFKA_PORT} is taken by something that does not answer as Kafka; free it or set KAFKA_BOOTSTRAP_SERVERS"
    fi
    if ((${#missing[@]} > 0)); then
        for node in "${missing[@]}"; do
            for pid in "$(broker_port "$node")" "$(controller_port "$node")"; do
                devstack_port_open "$KAFKA_HOST" "$pid" &&
                    devstack_die "kafka: port ${pid} (node ${node}) is taken; free it or set KAFKA_BOOTSTRAP_SERVERS / DEVSTACK_KAFKA_CONTROLLER_PORT"
            done
        done
        need_tools
        fetch_jars
        for ((node = 1; node <= KAFKA_BROKERS; node++)); do render_config "$node"; done
        format_storage
        for node in "${missing[@]}"; do
            local -a java
            mapfile -t java < <(java_cmd "$node")
            devstack_say "kafka: starting node ${node} on ${KAFKA_HOST}:$(broker_port "$node") (controller $(controller_port "$node"))"
            devstack_spawn "$(node_pidfile "$node")" "$(node_log_dir "$node")/kafka.out" \
                "${java[@]}" "$KAFKA_MARKER" "$(node_dir "$node")/server.properties"
        done
    fi
    wait_ready
    local pids=()
    for ((node = 1; node <= KAFKA_BROKERS; node++)); do pids+=("$(node_alive "$node")"); done
    if ((KAFKA_BROKERS == 1)); then
        devstack_say "kafka: ready (pid ${pids[0]}) on ${KAFKA_HOST}:${KAFKA_PORT}, log $(node_log_dir 1)/server.log"
    else
        devstack_say "kafka: ${KAFKA_BROKERS} brokers ready (pids ${pids[*]}) on $(all_brokers); logs $(node_log_dir 1)/server.log and the other nodes'"
        [[ "${KAFKA_BOOTSTRAP_SERVERS:-}" == *,* ]] ||
            devstack_say "kafka: set KAFKA_BOOTSTRAP_SERVERS=$(all_brokers) so the clients still find the cluster while node 1 is down"
    fi
}

stop() {
    # Every node this checkout (or this DEVSTACK_KAFKA_HOME) started, whatever
    # DEVSTACK_KAFKA_BROKERS says now, side by side. A clean shutdown of a single KRaft node can
    # take a few seconds; give it 30. The last node of a cluster to go waits for a controller
    # quorum that has left with the others, so a cluster's nodes get 10 (its log recovers at
    # the next start).
    local pidfile name grace pids=()
    for pidfile in "${KAFKA_PID_ROOT}/kafka.pid" "${KAFKA_PID_ROOT}"/kafka-node-*.pid; do
        [[ -e "$pidfile" ]] || continue
        name="$(basename "$pidfile" .pid)"
        grace=30
        [[ "$name" == kafka-node-* ]] && grace="${DEVSTACK_KAFKA_STOP_GRACE:-10}"
        devstack_stop_pidfile "$pidfile" "$KAFKA_MARKER" "$grace" "$name" &
        pids+=($!)
    done
    if ((${#pids[@]} == 0)); then
        devstack_say "kafka: not running"
        return 0
    fi
    for name in "${pids[@]}"; do wait "$name"; done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
