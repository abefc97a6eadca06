"""Example services built on the journey stream (SPEC §10); see each folder's README."""
