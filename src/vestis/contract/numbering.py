"""How a job's outputs are numbered for people: instructions, images and variations from 1.

The wire and the file names keep the spec's indexes from 0 (`group_index`, `image_index`,
`output_<instruction>_<variation>_v0.jpg`); every message and page a person reads (the CLI, the
studio, the review page) numbers from 1, through these functions, so they all agree.
"""

from __future__ import annotations

import re
from typing import Any

#: A flat-to-model output's name on the wire: `output_<instruction>_<variation>.<ext>`.
_FLAT_NAME = re.compile(r"^output_(\d+)_(\d+)\.")


def flat_label(instruction_index: int, variation_index: int, sep: str = ", ") -> str:
    """`instruction 1, variation 1` for the first output of the first instruction."""
    return f"instruction {instruction_index + 1}{sep}variation {variation_index + 1}"


def swap_label(image_index: int, variation_index: int, sep: str = ", ") -> str:
    """`image 1, variation 1` for the first output of the first photo."""
    return f"image {image_index + 1}{sep}variation {variation_index + 1}"


def flat_indexes(result: dict[str, Any]) -> tuple[int, int]:
    """(instruction, variation) of a flat-to-model result body, both from 0. `image_index` is
    the output's position in the whole job, so the variation comes from the spec's file name
    when it has one."""
    instruction = int(result.get("group_index") or 0)
    match = _FLAT_NAME.match(str(result.get("original_filename") or ""))
    if match and int(match.group(1)) == instruction:
        return instruction, int(match.group(2))
    return instruction, int(result.get("variation") or 0)
