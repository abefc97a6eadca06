#!/usr/bin/env bash
# `make bench`: every benchmark of bench/, one after the other (they would distort each other
# if run together). Each writes its own bench/<capability>/RESULTS.md (SCALE.md for the ingest
# cost at 27.6 M stored rows, which needs ~4 GB in the temp folder). Needs the local stack
# (`make up`, which `make bench` runs first). Takes about 45 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
for script in bench/ingest/bench_ingest.py bench/ingest/bench_ingest_scale.py \
    bench/journeys/bench_journeys.py \
    bench/alerts/bench_alerts.py bench/streams/bench_stream_cost.py bench/report/bench_report.py; do
    echo "=== ${script}"
    "$py" "$script"
done
# The lake on S3 (its own SeaweedFS server) against the local folder: ingest and upkeep
# (bench/ingest/S3.md).
echo "=== bench/ingest/bench_s3.py"
"$py" bench/ingest/bench_s3.py
# The dashboard's pages at base scale in a real browser (prints its table; see
# bench/dashboard/RESULTS.md).
echo "=== analytics_pipeline_tests/dashboard/bench_pages.py"
"$py" -m analytics_pipeline_tests.dashboard.bench_pages --scale base
