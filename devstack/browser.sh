#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium; no
# browser is ever downloaded). Called by `make sysdeps`. Silent and instant when it is there;
# apt-get only when it is missing, which needs root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -x /usr/bin/chromium ]] && exit 0

if [[ "$(id -u)" != 0 ]]; then
    devstack_die "missing system package: chromium; install it with: sudo apt-get install -y chromium"
fi
command -v apt-get >/dev/null 2>&1 ||
    devstack_die "missing system package: chromium, and apt-get is not available to install it"
devstack_say "installing system package: chromium (for the dashboard's browser tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
devstack_say "installed: chromium"
