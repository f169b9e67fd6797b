"""What a run is asked to do: the flags of the four reference scripts as one value."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["swap", "flat", "packshot", "recolor"]
#: The kinds that show a person: their runs resolve an identity first.
IDENTITY_KINDS = ("swap", "flat")
TITLES = {
    "swap": "Model Swap",
    "flat": "Flat-to-Model",
    "packshot": "Create Packshot",
    "recolor": "Garment Recolor",
}

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
    # create-packshot (also: instructions, image_notes, post_process, use_anchor)
    anchor_index: int = 0
    # garment-recolor: the job's flat fields as the script sends them (num_variations, model,
    # processing_size, post_process, use_anchor, add_ai_watermark, the targets)
    recolor: dict[str, Any] = field(default_factory=dict)
    reference_image: Path | None = None

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def needs_identity(self) -> bool:
        return self.kind in IDENTITY_KINDS

    def job_body(
        self,
        project_id: str,
        identity_code: str,
        file_ids: list[str],
        notes: list[str] | None,
        reference_id: str | None = None,
    ) -> dict[str, Any]:
        """The job request exactly as the newest reference script sends it (MS-5 / FM-5,
        create_packshot.py, garment_recolor.py).

        `notes` (flat, packshot: --image-notes) are already matched to `file_ids` by file;
        `reference_id` is the uploaded --reference-image of a recolour."""
        if self.kind == "recolor":
            body = {"project_id": project_id, "images": file_ids, **self.recolor}
            if reference_id:
                body["reference_image"] = reference_id
            return body
        if self.kind == "packshot":
            options: dict[str, Any] = {"model": self.model}
            if self.use_anchor:
                options["use_anchor"] = True
                if self.anchor_index:
                    options["anchor_index"] = self.anchor_index
            return {
                "project_id": project_id,
                "images": _annotated(file_ids, notes),
                "instructions": self.instructions,
                "post_process": self.post_process,
                "options": options,
            }
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
        images = _annotated(file_ids, notes)
        options = {"model": self.model}
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


def _annotated(file_ids: list[str], notes: list[str] | None) -> list[Any]:
    """Plain file ids, or `{file_id, note?}` objects when --image-notes were given."""
    if notes is None:
        return list(file_ids)
    images: list[Any] = []
    for file_id, note in zip(file_ids, notes, strict=True):
        item: dict[str, Any] = {"file_id": file_id}
        if note:
            item["note"] = note
        images.append(item)
    return images


def clamp_parallel(value: int) -> int:
    """--parallel is clamped silently to 1..5, as the reference batch scripts do."""
    return max(1, min(value, MAX_PARALLEL))


def fingerprint(value: Any) -> str:
    """A stable hash of a JSON-able value (the job request, for the journal)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
