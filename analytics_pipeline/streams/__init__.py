"""Streams the pipeline publishes to Kafka (SPEC §10): records, and their exactly-once publisher."""
