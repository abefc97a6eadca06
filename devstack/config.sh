#!/usr/bin/env bash
# Print the configuration the devstack scripts and `make run` use (`make config`), and where
# each value comes from: the environment, your .env, or .env.example. Secrets are not shown.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Names the environment sets before any defaults are filled in.
declare -A from_environment=()
while IFS= read -r name; do from_environment["$name"]=1; done < <(compgen -e)

source "${here}/env.sh"

SECRETS=" SLACK_BOT_TOKEN KAFKA_SASL_PASSWORD DAGSTER_PG_PASSWORD ANALYTICS_LAKE_PASSWORD AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN DEVSTACK_S3_SECRET_KEY "

# The names a file defines, in file order.
names_in() {
    [[ -f "$1" ]] || return 0
    sed -nE 's/^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=.*/\2/p' "$1"
}

source_of() {
    local name="$1" file
    if [[ -n "${from_environment[$name]+x}" ]]; then
        echo environment
        return
    fi
    for file in "${DEVSTACK_ENV_FILES[@]}"; do
        if names_in "$file" | grep -qxF -- "$name"; then
            basename "$file"
            return
        fi
    done
    echo environment
}

declare -A seen=()
names=()
for file in "${DEVSTACK_ENV_FILES[@]}"; do
    while IFS= read -r name; do
        [[ -n "${seen[$name]+x}" ]] && continue
        seen["$name"]=1
        names+=("$name")
    done < <(names_in "$file")
done
# Optional SPEC §2 variables that only the environment sets (e.g. KAFKA_SASL_*).
while IFS= read -r name; do
    [[ -n "${seen[$name]+x}" ]] && continue
    seen["$name"]=1
    names+=("$name")
done < <(compgen -e | grep -E '^(KAFKA_|ANALYTICS_|SLACK_|DAGSTER_PG_|AWS_)' | sort)

for name in "${names[@]}"; do
    if [[ "$SECRETS" == *" $name "* ]]; then
        value="(hidden)"
        [[ -n "${!name:-}" ]] || value="(empty)"
    else
        value="${!name-}"
    fi
    printf '%s=%s  # %s\n' "$name" "$value" "$(source_of "$name")"
done
