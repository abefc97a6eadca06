"""Kafka to the lake: range planning (ranges), the run loop (loop), the batch writer (writer)."""
