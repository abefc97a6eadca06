"""The DuckDB warehouse as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from analytics_pipeline.warehouse import connect


class WarehouseResource(dg.ConfigurableResource):
    """Short-lived connections to the warehouse file; only runs in the `duckdb` pool use it."""

    duckdb_path: str

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = connect(self.duckdb_path)
        try:
            yield conn
        finally:
            conn.close()
