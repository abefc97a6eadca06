"""Fault-injection tests: real processes, real signals, real services."""
