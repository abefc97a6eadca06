#!/usr/bin/env bash
# System packages the tests need beyond the machine image (`make sysdeps`, run by `make test`):
# pdftoppm (poppler-utils) to look at rendered report pages, WeasyPrint's native libraries
# (Pango, fonts), tmux (the Ctrl-C test types into a real terminal), and redis-server (the broker
# of the pool of run workers, deploy/dagster.celery.yaml, and its tests). Fast and silent when
# everything is present; apt-get only when something is missing, which needs root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
have_lib() { ldconfig -p 2>/dev/null | grep -qF "$1"; }

command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
have_lib libpango-1.0.so.0 || missing+=(libpango-1.0-0)
have_lib libpangoft2-1.0.so.0 || missing+=(libpangoft2-1.0-0)
have_lib libharfbuzz-subset.so.0 || missing+=(libharfbuzz-subset0) # WeasyPrint font subsetting, ~10x faster
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[[ -n "$(fc-list 2>/dev/null | head -n 1)" ]] || missing+=(fontconfig fonts-dejavu-core)

((${#missing[@]} == 0)) && exit 0

if [[ "$(id -u)" != 0 ]]; then
    devstack_die "missing system packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}"
fi
command -v apt-get >/dev/null 2>&1 ||
    devstack_die "missing system packages: ${missing[*]}, and apt-get is not available to install them"
devstack_say "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
devstack_say "installed: ${missing[*]}"
