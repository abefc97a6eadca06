"""Tests of the traffic simulator (SPEC §8)."""
