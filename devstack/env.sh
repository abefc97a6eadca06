# Sourced by the devstack scripts: repository paths plus the .env defaults.
#
# A variable already set in the environment wins over .env, so `KAFKA_BOOTSTRAP_SERVERS=...
# make run` or a CI setting is never overwritten. Paths are derived from this file's
# location, so every clone (CI clones elsewhere) keeps its own state in <clone>/.devstack.

DEVSTACK_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEVSTACK_STATE="${DEVSTACK_REPO}/.devstack"
DEVSTACK_LOGS="${DEVSTACK_STATE}/logs"
DEVSTACK_PIDS="${DEVSTACK_STATE}/run"
DEVSTACK_PYTHON="${DEVSTACK_REPO}/.venv/bin/python"
export DEVSTACK_REPO DEVSTACK_STATE DEVSTACK_LOGS DEVSTACK_PIDS DEVSTACK_PYTHON

devstack_load_env() {
    local file="${1:-${DEVSTACK_REPO}/.env}" line name value
    [[ -f "$file" ]] || return 0
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%$'\r'}"
        [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
        [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        name="${BASH_REMATCH[2]}"
        value="${BASH_REMATCH[3]}"
        # Strip one pair of surrounding quotes, as docker-compose and python-dotenv do.
        if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
            value="${BASH_REMATCH[1]}"
        fi
        if [[ -z "${!name+x}" ]]; then
            export "$name=$value"
        fi
    done <"$file"
}

devstack_load_env
