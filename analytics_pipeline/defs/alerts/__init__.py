"""Dagster definitions of the alerts capability: rules asset, send job, and its sensor."""

import dagster as dg

from analytics_pipeline.defs.alerts.assets import alerts
from analytics_pipeline.defs.alerts.send import send_alerts_job
from analytics_pipeline.defs.alerts.sensors import send_alerts_sensor

defs = dg.Definitions(assets=[alerts], jobs=[send_alerts_job], sensors=[send_alerts_sensor])
