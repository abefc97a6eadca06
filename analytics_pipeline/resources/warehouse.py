"""The DuckLake warehouse as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from analytics_pipeline.settings import Settings
from analytics_pipeline.warehouse import Lake, S3Access, connect, unavailable
from analytics_pipeline.warehouse.object_store import is_storage_error


class WarehouseResource(dg.ConfigurableResource):
    """Connections to the lake. Any run may write it; readers never block writers."""

    catalog: str
    data_path: str
    password: str | None = None
    metadata_schema: str | None = Settings.lake_metadata_schema
    snapshot_retention_days: float = float(Settings.lake_retention_days)
    # An s3:// data path only: the AWS SDK's settings (settings.py), secrets as EnvVar.
    aws_region: str = Settings.aws_region
    aws_endpoint_url: str | None = Settings.aws_endpoint_url
    aws_access_key_id: str | None = Settings.aws_access_key_id
    aws_secret_access_key: str | None = Settings.aws_secret_access_key
    aws_session_token: str | None = Settings.aws_session_token

    @property
    def lake(self) -> Lake:
        s3 = None
        if self.data_path.startswith("s3://"):
            s3 = S3Access(
                region=self.aws_region,
                endpoint_url=self.aws_endpoint_url,
                access_key_id=self.aws_access_key_id,
                secret_access_key=self.aws_secret_access_key,
                session_token=self.aws_session_token,
            )
        return Lake(
            catalog=self.catalog,
            data_path=self.data_path,
            password=self.password,
            metadata_schema=self.metadata_schema,
            s3=s3,
        )

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, closed afterwards. A catalog that goes away mid-run
        surfaces as LakeUnavailableError naming its host and database; an object store that
        does, as LakeStorageError naming the endpoint and bucket."""
        lake = self.lake
        conn = connect(lake)
        try:
            yield conn
        except duckdb.IOException as error:
            if "postgres" in str(error).lower() or is_storage_error(error):
                raise unavailable(lake, error) from error
            raise
        finally:
            conn.close()
