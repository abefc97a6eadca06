"""Flags deeply engaged users from the journey stream: a Quix Streams example (README.md)."""
