"""Flat-to-model instructions from the command line or an instructions file (spec §4.4)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class InstructionsError(Exception):
    """The instructions file is missing or not what the API expects; the message says which."""


@dataclass(frozen=True)
class SimpleInstruction:
    """The instruction flags of `flat-to-model` (simple mode builds exactly one instruction)."""

    prompt: str | None = None
    pose: str | None = None
    background: str | None = None
    num_variations: int = 1
    size: str | None = None
    aspect_ratio: str | None = None
    fmt: str | None = None
    seed: int | None = None

    def build(self) -> dict[str, Any]:
        """The one instruction the reference scripts send for these flags (`{}` with none)."""
        instruction: dict[str, Any] = {}
        for key in ("prompt", "pose", "background"):
            value = getattr(self, key)
            if value:
                instruction[key] = value
        if self.seed is not None:
            instruction["seed"] = self.seed
        if self.num_variations > 1:
            instruction["num_variations"] = self.num_variations
        options = {
            key: value
            for key, value in (("size", self.size), ("ar", self.aspect_ratio), ("format", self.fmt))
            if value
        }
        if options:
            instruction["options"] = options
        return instruction


def load_instructions_file(path: Path) -> list[Any]:
    """The instructions of a JSON file: a list, or a dict with an `instructions` list. The
    contents are passed on unvalidated, as the reference scripts do."""
    if not path.is_file():
        raise InstructionsError(f"Instructions file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InstructionsError(f"Error parsing instructions file: {exc}") from exc
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and "instructions" in data:
        return list(data["instructions"])
    raise InstructionsError('Invalid instructions file: expected a list or {"instructions": [...]}')


def build_instructions(simple: SimpleInstruction, instructions_file: Path | None) -> list[Any]:
    """The file, when given, overrides every simple flag."""
    if instructions_file is not None:
        return load_instructions_file(instructions_file)
    return [simple.build()]


def count_outputs(instructions: list[Any]) -> int:
    """Outputs a job makes: one per instruction times its `num_variations` (an empty list is one
    default instruction)."""
    if not instructions:
        return 1
    total = 0
    for instruction in instructions:
        variations = instruction.get("num_variations", 1) if isinstance(instruction, dict) else 1
        total += variations if isinstance(variations, int) and variations > 0 else 1
    return total
