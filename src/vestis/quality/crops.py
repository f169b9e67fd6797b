"""Square crops around a face, for people to compare faces side by side (the studio's face
view, the report of a run): the same region of an input and of its output, and the identity's
face, at one size."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops

Box = tuple[int, int, int, int]
#: Space kept around the face box on each side, as a share of the box's longer side.
MARGIN = 0.45
#: A pixel counts as changed by a swap when a channel moved more than this.
CHANGED = 24


def square_crop(image: Image.Image, box: Box, edge: int) -> Image.Image:
    """A square around `box` with MARGIN on every side, kept inside the image, scaled to
    `edge` pixels."""
    left, top, right, bottom = box
    side = max(right - left, bottom - top) * (1 + 2 * MARGIN)
    side = min(side, image.width, image.height)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0 = int(min(max(cx - side / 2, 0), image.width - side))
    y0 = int(min(max(cy - side / 2, 0), image.height - side))
    region = image.crop((x0, y0, x0 + int(side), y0 + int(side)))
    return region.resize((edge, edge), Image.Resampling.LANCZOS)


def changed_box(before: Image.Image, after: Image.Image) -> Box | None:
    """The bounding box of the pixels a swap changed (None when nothing changed): where the
    new face is, whatever engine made it."""
    if after.size != before.size:
        after = after.resize(before.size)
    diff = np.asarray(ImageChops.difference(before.convert("RGB"), after.convert("RGB")))
    ys, xs = np.nonzero(diff.max(axis=2) > CHANGED)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
