"""The lake's secrets stay secret: the catalog password sits in a DuckDB secret (no PGPASSWORD in
the process environment) and shows in no error, run log or metadata; without an AWS key pair the
AWS credential chain reaches S3."""

from __future__ import annotations

import os
from dataclasses import replace

import dagster as dg
import pytest

from analytics_pipeline.defs.maintenance.assets import lake_files
from analytics_pipeline.warehouse import LakeStorageError, LakeUnavailableError, connect
from analytics_pipeline.warehouse.lake import _instance_conn
from analytics_pipeline_tests.fixtures.warehouse import warehouse_resource

WRONG_PASSWORD = "Wr0ng-catalog-Pa55word"


def test_the_catalog_password_is_in_no_environment_error_log_or_metadata(
    lake, dagster_instance, monkeypatch
):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    connect(lake).close()
    assert "PGPASSWORD" not in os.environ
    secrets = _instance_conn().execute("SELECT secret_string FROM duckdb_secrets()").fetchall()
    assert secrets and all(f"password={lake.password};" not in s for (s,) in secrets)

    wrong = replace(lake, password=WRONG_PASSWORD, metadata_schema=lake.metadata_schema + "_x")
    with pytest.raises(LakeUnavailableError) as raised:
        connect(wrong)
    assert "password authentication failed" in str(raised.value)
    assert WRONG_PASSWORD not in str(raised.value)

    failed = dg.materialize(
        [lake_files],
        instance=dagster_instance,
        resources={"warehouse": warehouse_resource(wrong)},
        raise_on_error=False,
    )
    assert not failed.success
    run_log = "\n".join(str(record) for record in dagster_instance.all_logs(failed.run_id))
    assert "password authentication failed" in run_log and WRONG_PASSWORD not in run_log
    assert "PGPASSWORD" not in os.environ


def test_without_a_key_pair_the_aws_credential_chain_applies(new_s3_lake, s3_server, monkeypatch):
    chain = s3_server.access(access_key_id=None, secret_access_key=None)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(LakeStorageError, match="credential chain found no credentials"):
        connect(new_s3_lake(access=chain))

    # The chain reads the SDK's own variables (as an instance profile would hand keys over).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    conn = connect(new_s3_lake(access=chain))
    try:
        conn.execute(
            "INSERT INTO ingest_offset_log (topic, kafka_partition, next_offset, updated_at, "
            "seq) VALUES ('t', 0, 1, now(), 1)"
        )
        assert conn.execute("SELECT count(*) FROM ingest_offsets").fetchone() == (1,)
    finally:
        conn.close()
