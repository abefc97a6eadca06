# Sourced by the devstack scripts: repository paths plus the configuration defaults.
#
# Precedence (SPEC §2): the environment always wins. A variable the environment does not set
# comes from the user's own git-ignored `.env`, if there is one, and then from the committed
# `.env.example` (the local-stack defaults). So `KAFKA_BOOTSTRAP_SERVERS=... make run` or a CI
# setting is never overwritten. Paths are derived from this file's location, so every clone (CI
# clones elsewhere) keeps its own state in <clone>/.devstack.

DEVSTACK_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEVSTACK_STATE="${DEVSTACK_REPO}/.devstack"
DEVSTACK_LOGS="${DEVSTACK_STATE}/logs"
DEVSTACK_PIDS="${DEVSTACK_STATE}/run"
DEVSTACK_PYTHON="${DEVSTACK_REPO}/.venv/bin/python"
export DEVSTACK_REPO DEVSTACK_STATE DEVSTACK_LOGS DEVSTACK_PIDS DEVSTACK_PYTHON

# The files defaults come from, highest precedence first (after the environment).
DEVSTACK_ENV_FILES=("${DEVSTACK_REPO}/.env" "${DEVSTACK_REPO}/.env.example")

# Export NAME=value lines of a dotenv file for every NAME the environment does not set yet.
devstack_load_env() {
    local file="$1" line name value
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

for _devstack_env_file in "${DEVSTACK_ENV_FILES[@]}"; do
    devstack_load_env "$_devstack_env_file"
done
unset _devstack_env_file
