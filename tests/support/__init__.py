"""Shared test support: a real server process and a deterministic test engine."""
