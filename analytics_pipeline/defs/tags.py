"""Asset tags shared across capabilities."""

# Assets with this tag run in the same run as every ingest, right after the raw tables
# (journeys, then the alert rules), so new events reach journeys and alerts without waiting
# for another run to be launched.
AFTER_INGEST_TAG_KEY = "analytics/after_ingest"
AFTER_INGEST_TAGS = {AFTER_INGEST_TAG_KEY: "true"}

# Assets with this tag run in the funnel job, after the funnel's own assets (the stage stream).
WITH_FUNNEL_TAG_KEY = "analytics/with_funnel"
WITH_FUNNEL_TAGS = {WITH_FUNNEL_TAG_KEY: "true"}
