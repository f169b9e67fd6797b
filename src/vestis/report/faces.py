"""Face crops for the review page of a model swap: the face region of the input and of the
output (the region the swap changed), and the identity's face, side by side at one size."""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import Image

from vestis.quality.crops import Box, changed_box, square_crop

CROP_EDGE = 200
#: A changed region larger than this share of the photo is a repaint, not a face swap.
REPAINTED = 0.6


def _face_box(image: Image.Image) -> Box | None:
    """The largest face, found by the quality measures' detector (None if none)."""
    from vestis.quality.faces import face_signature

    found = face_signature(image)
    return found.box if found is not None else None


@functools.lru_cache(maxsize=8)
def _identity_box(path: Path) -> Box | None:
    with Image.open(path) as image:
        return _face_box(image.convert("RGB"))


def _swap_region(before: Image.Image, after: Image.Image) -> Box | None:
    """Where the swap put the new face: the region it changed, or, when it repainted the whole
    photo, the face of the input."""
    box = changed_box(before, after)
    if box is not None:
        area = (box[2] - box[0]) * (box[3] - box[1])
        if area <= REPAINTED * before.width * before.height:
            return box
    return _face_box(before)


def _open(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError):
        return None


def swap_crops(
    input_path: Path, output_path: Path, identity_path: Path | None
) -> list[tuple[str, Image.Image]]:
    """(caption, crop) for input, identity (when its photo is at hand) and output; empty when
    the swap changed nothing that can be found."""
    before, after = _open(input_path), _open(output_path)
    if before is None or after is None:
        return []
    box = _swap_region(before, after)
    if box is None:
        return []
    crops = [("input", square_crop(before, box, CROP_EDGE))]
    identity = _open(identity_path) if identity_path is not None else None
    if identity is not None and identity_path is not None:
        face = _identity_box(identity_path)
        if face is not None:
            crops.append(("identity", square_crop(identity, face, CROP_EDGE)))
    crops.append(("output", square_crop(after.resize(before.size), box, CROP_EDGE)))
    return crops
