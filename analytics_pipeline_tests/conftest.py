"""Shared fixtures: each capability's fixtures live in analytics_pipeline_tests/fixtures/."""

pytest_plugins = [
    "analytics_pipeline_tests.fixtures.stack",
    "analytics_pipeline_tests.fixtures.slack",
    "analytics_pipeline_tests.fixtures.warehouse",
]


def pytest_collection_modifyitems(items: list) -> None:
    """Files with a minute-long (`slow`) test first: under pytest-xdist (`make test`) they then
    share the workers with the many short tests instead of running last, side by side."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
