"""The local engine's packshot and garment-recolour outputs: which photo, which colour, the
measures and the warnings around `packshot.make_packshot` and `recolor.shift_to`."""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from vestis.engines.base import EngineError, EngineOutput, FlatGarment, PackshotSpec, RecolorSpec
from vestis.engines.local.packshot import Variant, make_packshot, variants
from vestis.quality import colour

#: A recolour's variation after the first: one target colour has one right answer, which the
#: local engine makes exactly; a variation that differed would be a worse colour, not a choice.
SAME_RECOLOUR = (
    "variation {n} is the same image as variation 1: the local engine recolours to exactly the "
    "colour asked for, and one colour has one right answer; ask for num_variations 1, or use "
    "a generative engine (the hosted On-Model service) for differently drawn variations"
)
#: Angles the local engine shows as photographed (it does not turn a garment round).
_AS_PHOTOGRAPHED = ("front", "top_down")


def _rgb(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def _pick(garments: list[FlatGarment], angle: str | None) -> FlatGarment:
    """The photo of the view asked for, by its note or file name (`back`), else the first."""
    if angle in ("back", "three_quarter", "detail_macro"):
        word = angle.replace("_", " ").split()[0]
        for garment in garments:
            if word in f"{garment.note or ''} {garment.filename}".lower():
                return garment
    return garments[0]


def _packshot_warnings(spec: PackshotSpec, chosen: FlatGarment) -> list[str]:
    instruction = spec.instruction
    warnings: list[str] = []
    angle = instruction.get("angle")
    if angle and angle not in _AS_PHOTOGRAPHED and angle not in f"{chosen.note} {chosen.filename}":
        warnings.append(
            f"angle {angle!r}: the local engine shows the garment as photographed "
            f"({chosen.filename or 'first photo'})"
        )
    for key in ("prompt", "props", "composition", "lighting", "color_palette"):
        if instruction.get(key):
            warnings.append(f"{key} ignored: the local engine does not interpret it")
    if len(spec.garments) > 1:
        warnings.append(f"made from {chosen.filename or 'one photo'} of {len(spec.garments)}")
    return warnings


def _variation_note(variation: int, look: Variant) -> str:
    n = variation + 1
    if look.repeats is None:
        return f"variation {n}: {', '.join(look.changes)} (what the instruction left open)"
    return (
        f"variation {n} is the same image as variation {look.repeats + 1}: the local engine "
        "varies only what the instruction leaves open (framing, shadow, and a flat_lay's "
        "surface), and nothing new was left; leave one of them out, or ask for fewer variations"
    )


def packshot_output(spec: PackshotSpec, model_used: str) -> EngineOutput:
    from vestis.engines.local.watermark import add_ai_watermark

    if not spec.garments:
        raise EngineError("A packshot needs at least one garment photo.")
    chosen = _pick(spec.garments, spec.instruction.get("angle"))
    style = str(spec.instruction.get("style") or "white_cutout")
    look = variants(spec.instruction, style, spec.variation + 1)[spec.variation]
    made = make_packshot(_rgb(chosen.image), spec.instruction, (spec.width, spec.height), look)
    image = Image.fromarray(made.image)
    if spec.add_ai_watermark:
        image = add_ai_watermark(image)
    warnings = _packshot_warnings(spec, chosen) + made.notes
    if spec.variation > 0:
        warnings.append(_variation_note(spec.variation, look))
    return EngineOutput(
        image=image,
        model_used=model_used,
        quality_score=0.9 if made.garment_whole else 0.45,
        warnings=warnings,
        metadata={"garment_whole": made.garment_whole, **made.measures},
    )


def colour_from_words(text: str) -> tuple[int, int, int] | None:
    """A colour named in free text (`make it forest green`, `recolour to #2E5A3B`): a hex code,
    else the longest run of the last words that is a colour name."""
    code = re.search(r"#?\b[0-9a-fA-F]{6}\b", text)
    if code:
        return colour.parse_colour(code.group(0))
    words = re.findall(r"[a-zA-Z]+", text)
    for length in (3, 2, 1):
        for start in range(len(words) - length, -1, -1):
            try:
                return colour.parse_colour(" ".join(words[start : start + length]))
            except colour.ColourError:
                continue
    return None


def _target(spec: RecolorSpec) -> tuple[int, int, int]:
    from vestis.engines.local.recolor import reference_colour

    if spec.target is not None:
        return spec.target
    if spec.reference is not None:
        return reference_colour(_rgb(spec.reference))
    found = colour_from_words(spec.instruction or "")
    if found is None:
        raise EngineError(
            f"The local engine found no colour in the instruction {spec.instruction!r}: name "
            "one (a hex code or a colour name such as navy), give reference_text, or a "
            "reference_image."
        )
    return found


def recolor_output(spec: RecolorSpec, model_used: str) -> EngineOutput:
    from vestis.engines.local.recolor import garment_mask, shift_to
    from vestis.engines.local.watermark import add_ai_watermark

    target = _target(spec)
    rgb = _rgb(spec.image)
    mask = garment_mask(rgb, spec.garment_label)
    out = shift_to(rgb, mask.alpha, colour.colour_lab(target))
    measured = colour.measure_recolour(rgb, out, mask.alpha, target)
    image = Image.fromarray(out)
    if spec.add_ai_watermark:
        image = add_ai_watermark(image)
    warnings = [f"garment mask: {note}" for note in mask.notes]
    if measured.delta_e2000 is not None and measured.delta_e2000 > colour.TARGET_DELTA_E:
        warnings.append(
            f"the garment's colour is ΔE2000 {measured.delta_e2000:.1f} from the colour asked "
            "for (it lies outside what the garment's shading allows)"
        )
    score = 0.9 if not warnings else 0.6  # the defects above lower it; the notes below do not
    if spec.source_size and max(spec.source_size) < max(spec.image.size):
        w, h = spec.source_size
        warnings.append(
            f"upscaled from the input's {w}x{h} to processing_size {max(spec.image.size)}: "
            "no detail beyond the photo's own (ask for a smaller processing_size to pay less)"
        )
    if spec.variation > 0:
        warnings.append(SAME_RECOLOUR.format(n=spec.variation + 1))
    return EngineOutput(
        image=image,
        model_used=model_used,
        quality_score=score,
        warnings=warnings,
        metadata={
            "garment_mask": mask.alpha,
            "mask_source": mask.source,
            "target": target,
            **measured.as_dict(),
        },
    )
