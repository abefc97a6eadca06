"""The lake on S3 is configured as the AWS SDK is (SPEC §2): bad values stop the code location at
load time naming the variable, and the secret key never shows."""

from __future__ import annotations

import dagster as dg
import pytest

from analytics_pipeline.resources import build_resources
from analytics_pipeline.settings import DEFAULT_AWS_REGION, ConfigError, load_settings
from analytics_pipeline.warehouse import Lake

S3 = {"ANALYTICS_LAKE_DATA_PATH": "s3://lake/analytics"}


def test_the_aws_sdk_variables_configure_the_lake_on_s3():
    settings = load_settings(
        {
            **S3,
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalr-very-secret",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:8333/",
        }
    )
    assert settings.lake_data_path == "s3://lake/analytics/"  # a folder, as DuckLake expects
    assert (
        settings.aws_region == "eu-west-1" and settings.aws_endpoint_url == "http://127.0.0.1:8333"
    )
    assert "wJalr-very-secret" not in repr(settings)
    lake = Lake.from_settings(settings)
    assert lake.s3 is not None and lake.s3.access_key_id == "AKIDEXAMPLE"
    assert "wJalr-very-secret" not in repr(lake) and "bucket 'lake'" in lake.storage_description

    # The S3-specific endpoint wins over the general one, AWS_REGION over AWS_DEFAULT_REGION.
    both = load_settings(
        {
            **S3,
            "AWS_ENDPOINT_URL": "http://general:1",
            "AWS_ENDPOINT_URL_S3": "https://s3.example.com",
            "AWS_REGION": "us-west-2",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert both.aws_endpoint_url == "https://s3.example.com" and both.aws_region == "us-west-2"
    # No keys: the credential chain; no region: the SDK's default.
    chain = Lake.from_settings(load_settings(S3))
    assert chain.s3 is not None and chain.s3.uses_credential_chain
    assert chain.s3.region == DEFAULT_AWS_REGION
    # A local folder needs no S3 access at all (make run with no object store).
    assert Lake.from_settings(load_settings({})).s3 is None


def test_the_secret_key_reaches_the_resource_as_an_env_var_never_as_a_value():
    settings = load_settings(
        {**S3, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalr-very-secret"}
    )
    warehouse = build_resources(settings)["warehouse"]
    assert warehouse.aws_secret_access_key == dg.EnvVar("AWS_SECRET_ACCESS_KEY")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ANALYTICS_LAKE_DATA_PATH": "s3://lake/"}, "ANALYTICS_LAKE_DATA_PATH"),  # bucket root
        ({"ANALYTICS_LAKE_DATA_PATH": "s3://Lake/x/"}, "ANALYTICS_LAKE_DATA_PATH"),
        ({"ANALYTICS_LAKE_DATA_PATH": "gcs://lake/x/"}, "ANALYTICS_LAKE_DATA_PATH"),
        ({**S3, "AWS_ENDPOINT_URL_S3": "127.0.0.1:8333"}, "AWS_ENDPOINT_URL_S3"),
        ({**S3, "AWS_ENDPOINT_URL": "ftp://host"}, "AWS_ENDPOINT_URL"),
        ({**S3, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"}, "AWS_SECRET_ACCESS_KEY"),
        ({**S3, "AWS_SECRET_ACCESS_KEY": "wJalr-very-secret"}, "AWS_ACCESS_KEY_ID"),
    ],
)
def test_bad_s3_configuration_fails_at_load_naming_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable) as raised:
        load_settings(env)
    assert "wJalr-very-secret" not in str(raised.value)
