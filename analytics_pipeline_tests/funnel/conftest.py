"""The funnel tests share the journeys fixtures (real DuckDB file, raw-batch writer)."""

from analytics_pipeline_tests.journeys.conftest import conn, duckdb_path, raw

__all__ = ["conn", "duckdb_path", "raw"]
