"""Clients of outside services, built from the settings, usable without Dagster.

The Dagster resources, the dashboard and the simulator all take their client configuration
from here, so a connection setting is read and translated in one place.
"""
