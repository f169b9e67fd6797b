"""Which instruction fields the local engine honours, and a warning for each one it cannot."""

from __future__ import annotations

import re
from typing import Any

#: Poses the local engine renders (a standing, front-facing body).
_SUPPORTED_POSE = re.compile(
    r"^\s*(standing|front|front[- ]facing|facing (the )?camera|straight|neutral|default"
    r"|standing,? front[- ]facing)(\s+\w+)?\s*$"
)


def design_text(value: Any) -> str | None:
    """The text of a Design Value (plain string or `{text, image}`); None for an int or empty."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        text = value.get("text")
        return str(text).strip() if text else None
    return None


def _is_standing_front(text: str) -> bool:
    lowered = text.lower()
    return bool(_SUPPORTED_POSE.match(lowered)) or lowered in {
        "standing front-facing",
        "standing front facing",
        "standing, front-facing",
        "front-facing standing",
    }


def instruction_warnings(instruction: dict[str, Any]) -> list[str]:
    """One warning per instruction field this engine cannot honour (never silently dropped)."""
    warnings: list[str] = []
    for field in ("pose", "expression", "mood", "camera", "lighting", "background", "style",
                  "color_palette", "angle"):  # fmt: skip
        value = instruction.get(field)
        if value is None:
            continue
        if isinstance(value, int):
            warnings.append(
                f"{field}: saved Design Value #{value} cannot be resolved by the local engine; "
                "ignored"
            )
            continue
        if isinstance(value, dict) and value.get("image"):
            warnings.append(f"{field}: reference image ignored by the local engine (text used)")
        text = design_text(value)
        if field == "background":
            continue  # handled by the backdrop, which warns itself when it cannot honour it
        if field == "pose":
            if text and not _is_standing_front(text):
                warnings.append(
                    f"pose '{text}' not supported: the local engine renders a standing, "
                    "front-facing body"
                )
            continue
        if field in ("camera", "angle") and _is_full_front(value, text):
            continue  # what the local engine renders anyway
        shown = text if text else _describe(value)
        reason = {
            "camera": "the local engine renders a straight-on, full-length view",
            "angle": "the local engine renders a straight-on, full-length view",
            "lighting": "the local engine keeps flat studio lighting",
            "expression": "the face is taken from the identity image as it is",
            "mood": "the local engine does not interpret mood",
            "style": "the local engine does not interpret style",
            "color_palette": "garment colours are kept as photographed",
        }[field]
        warnings.append(f"{field} '{shown}' not supported: {reason}")
    prompt = instruction.get("prompt")
    if prompt:
        warnings.append(
            "prompt ignored: the local engine does not interpret free text (only the background "
            "field's colour words are used)"
        )
    return warnings


_FULL = re.compile(r"full[- ]?(body|length)|front|straight|eye[- ]level")
_NOT_FULL = re.compile(r"side|back|low|high|close|crop|top|detail|3/4|three[- ]quarter|profile")


def _is_full_front(value: Any, text: str | None) -> bool:
    """A camera request the local engine meets as it is: full-length, straight on."""
    if isinstance(value, dict):
        parts = [str(v) for k, v in value.items() if v and k in ("framing", "angle", "text")]
        extra = [k for k, v in value.items() if v and k in ("lens", "aperture", "image")]
        if extra:
            return False
        text = " ".join(parts)
    lowered = (text or "").lower()
    return bool(_FULL.search(lowered)) and not _NOT_FULL.search(lowered)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        parts = [f"{k}={v}" for k, v in value.items() if v is not None and k != "image"]
        return ", ".join(parts) or "reference image"
    return str(value)
