#!/usr/bin/env bash
# Stop what `make up` started in this checkout (`make down`). Data stays in .devstack;
# services this checkout did not start (another clone's Kafka, a system PostgreSQL) are left alone.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${here}/env.sh"
source "${here}/lib.sh"

bash "${here}/slack.sh" stop
bash "${here}/kafka.sh" stop
bash "${here}/postgres.sh" stop
