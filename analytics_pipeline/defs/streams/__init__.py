"""Streams: what the pipeline derives, published to Kafka for other services (SPEC §10)."""

import dagster as dg

from analytics_pipeline.defs.streams.assets import journey_stream
from analytics_pipeline.defs.streams.replay import replay_journey_stream
from analytics_pipeline.defs.streams.stages import user_stage_stream

defs = dg.Definitions(assets=[journey_stream, user_stage_stream], jobs=[replay_journey_stream])
