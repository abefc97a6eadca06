"""The DuckLake warehouse: attaching it, its schema, transactions, and the SQL of each step."""

from analytics_pipeline.warehouse.connection import (
    connect,
    ensure_schema,
    is_conflict,
    reading,
    retry_conflicts,
    transaction,
)
from analytics_pipeline.warehouse.lake import (
    Lake,
    LakeStorageError,
    LakeUnavailableError,
    unavailable,
)
from analytics_pipeline.warehouse.object_store import S3Access
from analytics_pipeline.warehouse.schema_version import LakeVersionError

__all__ = [
    "Lake",
    "LakeStorageError",
    "LakeUnavailableError",
    "LakeVersionError",
    "S3Access",
    "connect",
    "ensure_schema",
    "is_conflict",
    "reading",
    "retry_conflicts",
    "transaction",
    "unavailable",
]
