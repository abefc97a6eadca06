"""Shared fixtures: each capability's fixtures live in analytics_pipeline_tests/fixtures/."""

pytest_plugins = [
    "analytics_pipeline_tests.fixtures.stack",
    "analytics_pipeline_tests.fixtures.slack",
    "analytics_pipeline_tests.fixtures.warehouse",
]
