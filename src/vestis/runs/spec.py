"""What a run is asked to do: the flags of the four reference scripts as one value."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["swap", "flat"]

DEFAULT_BASE_URL = "https://v2.api.piktid.com"
#: --model choices: the union of every reference version's choices.
SWAP_MODELS = ("auto", "onda", "nano_banana_pro", "nano_banana_2")
FLAT_MODELS = ("auto", "nano_banana_pro", "seedream")
SIZES = ("1K", "2K", "4K")
ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
FORMATS = ("png", "jpg")
MAX_PARALLEL = 5


@dataclass(frozen=True)
class RunSpec:
    """Everything but the folders and the connection. `instructions` is already built (flat)."""

    kind: Kind
    identity_code: str | None = None
    identity_image: Path | None = None
    model: str = "auto"
    # model swap
    post_process: bool = False
    use_anchor: bool = False
    # flat-to-model
    instructions: list[Any] = field(default_factory=list)
    instructions_file: Path | None = None
    image_notes: list[str] | None = None
    enhance_consistency: bool = True
    barefoot: bool = False

    @property
    def title(self) -> str:
        return "Model Swap" if self.kind == "swap" else "Flat-to-Model"

    def job_body(
        self, project_id: str, identity_code: str, file_ids: list[str], notes: list[str] | None
    ) -> dict[str, Any]:
        """The job request exactly as the newest reference script sends it (MS-5 / FM-5).

        `notes` (flat, --image-notes) are already matched to `file_ids` by file."""
        if self.kind == "swap":
            swap_options: dict[str, Any] = {"model": self.model}
            if self.use_anchor:
                swap_options["use_anchor"] = True
            return {
                "project_id": project_id,
                "images": file_ids,
                "identity_code": identity_code,
                "post_process": self.post_process,
                "swap_options": swap_options,
            }
        images: list[Any] = list(file_ids)
        if notes is not None:
            images = []
            for file_id, note in zip(file_ids, notes, strict=True):
                item: dict[str, Any] = {"file_id": file_id}
                if note:
                    item["note"] = note
                images.append(item)
        options: dict[str, Any] = {"model": self.model}
        if not self.enhance_consistency:
            options["use_anchor"] = False
        if self.barefoot:
            options["barefoot"] = True
        return {
            "project_id": project_id,
            "images": images,
            "identity_code": identity_code,
            "instructions": self.instructions,
            "options": options,
        }


def clamp_parallel(value: int) -> int:
    """--parallel is clamped silently to 1..5, as the reference batch scripts do."""
    return max(1, min(value, MAX_PARALLEL))


def fingerprint(value: Any) -> str:
    """A stable hash of a JSON-able value (the job request, for the journal)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
