"""Redo of one output as its next version (wired to the job queue in a later change)."""

from __future__ import annotations


def available() -> bool:
    return False
