#!/usr/bin/env bash
# Start the local stack (`make up`): Kafka, PostgreSQL (with the Dagster database and the
# lake's catalog database), the Slack stub, the S3 server, and the lake's local data folder.
#
# Idempotent: what already runs is reused. Returns only once every service answers, and
# prints where the logs are. State (jars, data, logs, pid files) lives in <repo>/.devstack.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${here}/env.sh"
source "${here}/lib.sh"

# One up/down at a time per checkout (two test sessions starting at once must not race).
mkdir -p "$DEVSTACK_PIDS"
exec 9>"${DEVSTACK_PIDS}/stack.lock"
flock -w 120 9 || devstack_die "another devstack up/down has held ${DEVSTACK_PIDS}/stack.lock for 2 minutes (holders: $(fuser "${DEVSTACK_PIDS}/stack.lock" 2>/dev/null || echo unknown))"

mkdir -p "$DEVSTACK_LOGS" "$DEVSTACK_PIDS"
[[ -x "$DEVSTACK_PYTHON" ]] ||
    devstack_warn "${DEVSTACK_PYTHON} is missing (run: make venv); Kafka readiness is checked by port only"

# The services must not inherit the lock (fd 9): a daemon holding it would make every later
# up/down wait for it until the timeout.
bash "${here}/kafka.sh" start 9>&-
bash "${here}/postgres.sh" start 9>&-
bash "${here}/slack.sh" start 9>&-
# The pool of run workers' broker, only when that variant is chosen (deploy/dagster.celery.yaml).
if [[ "${ANALYTICS_RUN_POOL:-}" == celery ]]; then
    bash "${here}/redis.sh" start 9>&-
fi
bash "${here}/s3.sh" start 9>&-

# The streams the pipeline publishes (SPEC §10). On a user's own Kafka the user creates them.
devstack_say "creating stream topics ${ANALYTICS_JOURNEY_TOPIC:-portal-journeys} and ${ANALYTICS_STAGE_TOPIC:-portal-user-stages} (3 partitions, cleanup.policy=delete, if missing)"
if [[ -x "$DEVSTACK_PYTHON" ]]; then
    "$DEVSTACK_PYTHON" "${here}/kafka_admin.py" --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" \
        create-topics "${ANALYTICS_JOURNEY_TOPIC:-portal-journeys}" "${ANALYTICS_STAGE_TOPIC:-portal-user-stages}" \
        --partitions 3 --config cleanup.policy=delete >/dev/null ||
        devstack_die "could not create the stream topics on ${KAFKA_BOOTSTRAP_SERVERS}"
else
    devstack_warn "${DEVSTACK_PYTHON} is missing (run: make venv); the stream topics are not created"
fi

# The lake's Parquet files: a local folder (relative to the repository) is created here; an
# object-store URL (s3://...) is left to its owner.
lake_data="${ANALYTICS_LAKE_DATA_PATH:-data/lake/}"
if [[ "$lake_data" != *://* ]]; then
    [[ "$lake_data" == /* ]] || lake_data="${DEVSTACK_REPO}/${lake_data}"
    mkdir -p "$lake_data" || devstack_die "cannot create the lake data folder ${lake_data} (ANALYTICS_LAKE_DATA_PATH)"
fi

devstack_say "stack is up. Kafka ${KAFKA_BOOTSTRAP_SERVERS}, PostgreSQL ${DAGSTER_PG_HOST}:${DAGSTER_PG_PORT}/${DAGSTER_PG_DB}, lake data ${lake_data}"
devstack_say "logs: ${DEVSTACK_LOGS}/ (kafka/server.log, slack_stub.log, s3.log); stop with: make down"
