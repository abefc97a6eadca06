"""Telling a lake nobody has written to yet from one that cannot be reached.

A read-only attach cannot create a DuckLake, so before the pipeline's first write the catalog
answers but the lake does not exist: that is an empty lake (run the pipeline), not an outage.
"""

from __future__ import annotations

from analytics_pipeline.warehouse import LakeUnavailableError

NOT_CREATED_MARK = "creating a new DuckLake is explicitly disabled"
NOT_CREATED_MESSAGE = (
    "The lake exists in the catalog database but has no tables yet: the pipeline has not "
    "written to it. Run `make run` (it starts the local stack, the traffic simulator and "
    "Dagster, which fills the lake within a few minutes)."
)


def not_created_yet(error: LakeUnavailableError) -> bool:
    """True when the catalog answered but holds no lake yet."""
    return NOT_CREATED_MARK in str(error)
