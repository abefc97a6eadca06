#!/usr/bin/env bash
# `make test`'s pytest part: the suite in two runs.
#
# 1. Everything but the `serial` tests, in TEST_WORKERS pytest-xdist workers (default 3; on 2
#    cores that measured 1.7x faster than one process: the tests are mostly CPU-bound, with
#    waits on Kafka, PostgreSQL, daemons and a browser in between). Each file stays on one
#    worker (`--dist loadfile`, with the scheduler in analytics_pipeline_tests/conftest.py): its
#    fixtures are built once, and tests that read another test's figures (the fuzzing totals)
#    see them. The files that start a Dagster daemon form one group, run first and one at a
#    time (`--no-loadscope-reorder` keeps that order).
# 2. The `serial` tests alone: they stop and start services of the shared stack, or measure a
#    run worker's memory, which needs the machine to itself.
#
# Extra arguments (make test PYTEST_ARGS=...) go to both runs; a run that selects no test is
# not a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
workers="${TEST_WORKERS:-3}"

.venv/bin/pytest -n "$workers" --dist loadfile --no-loadscope-reorder -m "not serial" "$@"
parallel=$?
if [ "$parallel" -eq 2 ] || [ "$parallel" -gt 5 ]; then exit "$parallel"; fi  # interrupted
.venv/bin/pytest -m serial "$@"
serial=$?

for status in parallel serial; do
    if [ "${!status}" -eq 5 ]; then printf -v "$status" 0; fi  # 5: no test selected
done
echo "devstack: parallel part exit ${parallel}, serial part exit ${serial}"
exit $(( parallel != 0 || serial != 0 ))
