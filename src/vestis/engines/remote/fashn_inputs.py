"""What a FASHN `/v1/run` needs from a vestis job: the `product-to-model` inputs built from a
flat-to-model instruction (a text prompt from its pose, background, camera, notes, ...), the
garment photos as one product image, and a warning for every field FASHN cannot take.

FASHN's `product-to-model` takes one `product_image`, a free `prompt`, an optional
`face_reference`, `image_prompt` (pose and scene inspiration), `background_reference`,
`aspect_ratio`, `resolution`, `seed`, `num_images` and `output_format` (spec fashn-v1-api.md
§2.5). Everything else of an instruction is either said in the prompt or reported.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

#: Instruction fields that become words of the prompt, in this order.
PROMPT_FIELDS = (
    "pose",
    "expression",
    "mood",
    "camera",
    "angle",
    "lighting",
    "background",
    "style",
    "color_palette",
)
#: Reference images FASHN can take, by instruction field.
IMAGE_INPUTS = {"pose": "image_prompt", "background": "background_reference"}
#: FASHN's aspect ratios (vestis's five are among them).
ASPECT_RATIOS = ("21:9", "1:1", "4:3", "3:2", "2:3", "5:4", "4:5", "3:4", "16:9", "9:16")
RESOLUTIONS = {"1K": "1k", "2K": "2k", "4K": "4k"}


def data_uri(data: bytes) -> str:
    """A data URI for encoded image bytes (FASHN requires the prefix)."""
    mime = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return data_uri(buffer.getvalue())


def collage(images: list[Image.Image], height: int = 1024) -> Image.Image:
    """The garments side by side on white, each scaled to one height: one product image."""
    scaled = []
    for image in images:
        rgb = image.convert("RGB")
        scaled.append(rgb.resize((max(1, round(rgb.width * height / rgb.height)), height)))
    gap = height // 16
    canvas = Image.new(
        "RGB", (sum(i.width for i in scaled) + gap * (len(scaled) + 1), height + 2 * gap), "white"
    )
    x = gap
    for image in scaled:
        canvas.paste(image, (x, gap))
        x += image.width + gap
    return canvas


def nearest_ratio(width: int, height: int) -> str:
    wanted = width / height
    return min(
        ASPECT_RATIOS, key=lambda r: abs(int(r.split(":")[0]) / int(r.split(":")[1]) - wanted)
    )


def resolution_for(width: int, height: int) -> str:
    pixels = width * height
    if pixels <= 1024 * 1024 * 1.2:
        return "1k"
    return "2k" if pixels <= 2048 * 2048 * 1.2 else "4k"


def _words(name: str, value: Any) -> str | None:
    """The prompt words of one instruction field, or None when it has no text."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        parts = [str(v) for k, v in value.items() if k != "image" and isinstance(v, str) and v]
        return ", ".join(parts) or None
    return None


@dataclass
class ProductToModel:
    """The inputs of one `product-to-model` run and what could not be passed."""

    inputs: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def product_to_model_inputs(
    instruction: dict[str, Any],
    garments: list[tuple[Image.Image, str | None]],
    identity: Image.Image | None,
    options: dict[str, Any],
    references: dict[str, bytes],
    width: int,
    height: int,
) -> ProductToModel:
    """Inputs for one instruction. `garments` are (image, note); `references` maps the file ids
    of `{text, image}` design values to their bytes; `options` are the job's options."""
    warnings: list[str] = []
    inputs: dict[str, Any] = {}
    prompt: list[str] = []
    for name in PROMPT_FIELDS:
        value = instruction.get(name)
        if value is None:
            continue
        if isinstance(value, int):
            warnings.append(
                f"{name}: a saved Design Value (#{value}) cannot be sent to FASHN; left out"
            )
            continue
        words = _words(name, value)
        if words:
            prompt.append(f"{name.replace('_', ' ')}: {words}")
        image_id = value.get("image") if isinstance(value, dict) else None
        if isinstance(image_id, str):
            target = IMAGE_INPUTS.get(name)
            if target and image_id in references:
                inputs[target] = data_uri(references[image_id])
            else:
                warnings.append(
                    f"{name}.image: FASHN takes no reference image for {name}; left out"
                )
    notes = [note for _, note in garments if note]
    if notes:
        prompt.append("styling: " + "; ".join(notes))
    if options.get("barefoot"):
        prompt.append("barefoot, no shoes")
    if instruction.get("prompt"):
        prompt.append(str(instruction["prompt"]))
    if prompt:
        inputs["prompt"] = ". ".join(prompt)
    if len(garments) == 1:
        inputs["product_image"] = image_uri(garments[0][0])
    else:
        inputs["product_image"] = image_uri(collage([g for g, _ in garments]))
        warnings.append(
            f"FASHN product-to-model takes one product image: the {len(garments)} garment "
            "photos were sent side by side as one"
        )
    if identity is not None:
        inputs["face_reference"] = image_uri(identity)
        inputs["face_reference_mode"] = "match_reference"
    out_options = instruction.get("options") or {}
    ratio = out_options.get("ar") or nearest_ratio(width, height)
    inputs["aspect_ratio"] = ratio
    size = out_options.get("size")
    inputs["resolution"] = RESOLUTIONS.get(size or "", resolution_for(width, height))
    inputs["output_format"] = "png" if out_options.get("format") == "png" else "jpeg"
    for name in ("preset_name", "category_names"):
        if instruction.get(name):
            warnings.append(f"{name} is vestis metadata; not sent to FASHN")
    return ProductToModel(inputs=inputs, warnings=warnings)


def fit_to(image: Image.Image, width: int, height: int) -> tuple[Image.Image, str | None]:
    """`image` scaled and centre-cropped to exactly width x height, with a warning when the
    shapes differed by more than 2 %."""
    if image.size == (width, height):
        return image, None
    scale = max(width / image.width, height / image.height)
    resized = image.resize(
        (max(width, round(image.width * scale)), max(height, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    fitted = resized.crop((left, top, left + width, top + height))
    mismatch = abs((image.width / image.height) / (width / height) - 1.0)
    warning = None
    if mismatch > 0.02:
        warning = (
            f"FASHN made {image.width}x{image.height}; cropped to the requested {width}x{height}"
        )
    return fitted, warning
