"""DuckDB warehouse: schema, connections, and the SQL of each step."""

from analytics_pipeline.warehouse.connection import connect, ensure_schema, transaction

__all__ = ["connect", "ensure_schema", "transaction"]
