#!/usr/bin/env bash
# Stop what `make up` started in this checkout (`make down`). Data stays in .devstack;
# services this checkout did not start (another clone's Kafka, a system PostgreSQL) are left alone.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${here}/env.sh"
source "${here}/lib.sh"

# One up/down at a time per checkout (two test sessions starting at once must not race).
mkdir -p "$DEVSTACK_PIDS"
exec 9>"${DEVSTACK_PIDS}/stack.lock"
flock -w 120 9 || devstack_die "another devstack up/down has held ${DEVSTACK_PIDS}/stack.lock for 2 minutes (holders: $(fuser "${DEVSTACK_PIDS}/stack.lock" 2>/dev/null || echo unknown))"

bash "${here}/slack.sh" stop
bash "${here}/redis.sh" stop
bash "${here}/s3.sh" stop
bash "${here}/kafka.sh" stop
bash "${here}/postgres.sh" stop
