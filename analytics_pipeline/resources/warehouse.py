"""The DuckLake warehouse as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from analytics_pipeline.settings import Settings
from analytics_pipeline.warehouse import Lake, connect, unavailable


class WarehouseResource(dg.ConfigurableResource):
    """Connections to the lake. Any run may write it; readers never block writers."""

    catalog: str
    data_path: str
    password: str | None = None
    metadata_schema: str | None = Settings.lake_metadata_schema
    snapshot_retention_days: float = float(Settings.lake_retention_days)

    @property
    def lake(self) -> Lake:
        return Lake(
            catalog=self.catalog,
            data_path=self.data_path,
            password=self.password,
            metadata_schema=self.metadata_schema,
        )

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, closed afterwards. A catalog that goes away mid-run
        surfaces as LakeUnavailableError naming its host and database."""
        lake = self.lake
        conn = connect(lake)
        try:
            yield conn
        except duckdb.IOException as error:
            if "postgres" in str(error).lower():
                raise unavailable(lake, error) from error
            raise
        finally:
            conn.close()
