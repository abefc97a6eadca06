"""analytics_pipeline: customer-journey analytics on Kafka as a Dagster code location."""
