"""Starting runs: Dagster's run launcher, with each run forked from a warm, preloaded parent."""

from analytics_pipeline.launcher.run_launcher import WarmRunLauncher

__all__ = ["WarmRunLauncher"]
