"""Fixtures of the multi-host test (cluster.py)."""

from analytics_pipeline_tests.multihost.cluster import multihost

__all__ = ["multihost"]
