"""The daemon end-to-end test (test_end_to_end.py) with the lake's data files on S3: the daemon,
its sensor and run workers reach the bucket through the AWS SDK's variables alone, and every file
the catalog lists is under s3://, none in a local folder."""

from __future__ import annotations

import pytest

from analytics_pipeline_tests.fixtures.s3 import s3_environment
from analytics_pipeline_tests.ingest import test_end_to_end as local
from analytics_pipeline_tests.ingest.test_lake_on_s3 import catalog_files


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_produced_events_reach_the_lake_on_s3_through_the_daemon(
    topics, produce, dagster_daemon, dagster_instance, tmp_path, s3_lake
):
    local.test_produced_events_reach_the_lake_through_the_daemon(
        topics,
        produce,
        dagster_daemon,
        dagster_instance,
        tmp_path,
        s3_lake,
        s3_environment(s3_lake),
    )
    files = catalog_files(s3_lake)
    assert all(path.startswith(s3_lake.data_path) for path in files), files
    assert not list(tmp_path.rglob("*.parquet"))
