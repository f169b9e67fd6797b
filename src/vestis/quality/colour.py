"""Colour measures of a garment recolour and a packshot: how far the garment's colour landed from
the colour asked for (CIEDE2000), and how much of the photo outside the garment stayed as it was.

    from vestis.quality.colour import parse_colour, measure_recolour
    target = parse_colour("forest green")            # (r, g, b)
    m = measure_recolour(original, output, garment_mask, target)
    m.delta_e2000, m.unchanged_outside

Colours are compared in CIE Lab (D65) with skimage, the garment's colour being the median of its
core (the mask's pixels away from its soft edge), which a print or a shadow does not move much.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PIL import ImageColor

#: ΔE2000 under which a recolour counts as the colour asked for (2.3 is a just noticeable
#: difference on flat patches; a textured garment's median wanders a little more).
TARGET_DELTA_E = 5.0
#: Alpha above which a garment pixel is core (not its feathered edge).
CORE_ALPHA = 0.9


class ColourError(ValueError):
    """A colour that cannot be read: the message says what was given and what is accepted."""


def _xkcd(name: str) -> str | None:
    """The hex code of one of the 949 colour names of the xkcd survey (matplotlib's table):
    the names people use for fabric (burgundy, mustard, teal, sage) that CSS lacks."""
    from matplotlib.colors import XKCD_COLORS

    words = re.sub(r"[\s_-]+", " ", name.strip().lower())
    return XKCD_COLORS.get(f"xkcd:{words}")


def parse_colour(text: str) -> tuple[int, int, int]:
    """`#2E5A3B`, `2E5A3B`, `#abc`, `rgb(46, 90, 59)`, a CSS colour name (spaces and case
    ignored: `forest green` is `forestgreen`), else an xkcd colour name (`burgundy`)."""
    raw = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{6}|[0-9a-fA-F]{3}", raw):
        raw = "#" + raw
    name = raw if raw.startswith(("#", "rgb", "hsl")) else re.sub(r"[\s_-]+", "", raw).lower()
    try:
        rgb = ImageColor.getrgb(name)
    except ValueError as exc:
        code = _xkcd(raw)
        if code is None:
            raise ColourError(
                f"{text!r} is not a colour: give a hex code (#2E5A3B) or a colour name "
                "(navy, forest green, burgundy)."
            ) from exc
        rgb = ImageColor.getrgb(code)
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def hex_code(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """Lab (float64) of RGB uint8 pixels of any leading shape (..., 3)."""
    from skimage.color import rgb2lab  # on first use: commands that make no image skip it

    return np.asarray(rgb2lab(np.asarray(rgb, dtype=np.uint8)[None, ...] / 255.0)[0])


def colour_lab(rgb: tuple[int, int, int]) -> np.ndarray:
    return to_lab(np.array([rgb], dtype=np.uint8))[0]


def core(mask: np.ndarray) -> np.ndarray:
    """The garment's core: alpha (uint8 0..255 or float 0..1, or bool) above `CORE_ALPHA`."""
    if mask.dtype == bool:
        return mask
    scale = 255.0 if mask.dtype == np.uint8 else 1.0
    return mask.astype(np.float32) / scale > CORE_ALPHA


def median_lab(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Median Lab of the garment's core pixels, None when it has none."""
    pixels = rgb[core(mask)]
    if len(pixels) == 0:
        return None
    return np.median(to_lab(pixels), axis=0)


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000

    return float(deltaE_ciede2000(np.asarray(lab1, float), np.asarray(lab2, float)))


@dataclass(frozen=True)
class RecolourMeasures:
    delta_e2000: float | None  # requested colour -> the recoloured garment's median colour
    unchanged_outside: float  # share of the pixels outside the garment that are the input's
    garment_share: float  # garment pixels / photo pixels

    def as_dict(self) -> dict[str, float | None]:
        return {
            "delta_e2000": None if self.delta_e2000 is None else round(self.delta_e2000, 3),
            "unchanged_outside_garment": round(self.unchanged_outside, 6),
            "garment_share": round(self.garment_share, 6),
        }


def unchanged_outside(
    original: np.ndarray, output: np.ndarray, mask: np.ndarray, tolerance: int = 0
) -> float:
    """Share of the pixels where the garment's alpha is 0 whose every channel is within
    `tolerance` of the original (0: bit for bit)."""
    outside = mask == 0 if mask.dtype != bool else ~mask
    total = int(outside.sum())
    if total == 0:
        return 1.0
    diff = np.abs(output.astype(np.int16) - original.astype(np.int16)).max(axis=2)
    return float((diff[outside] <= tolerance).sum()) / total


def measure_recolour(
    original: np.ndarray,
    output: np.ndarray,
    mask: np.ndarray,
    target: tuple[int, int, int] | np.ndarray,
    tolerance: int = 0,
) -> RecolourMeasures:
    """ΔE2000 from `target` (RGB, or Lab as an array of 3 floats) to the garment's median colour
    in `output`, and the unchanged share outside the garment (`mask`, the garment's alpha)."""
    target_lab = colour_lab(target) if isinstance(target, tuple) else np.asarray(target, float)
    got = median_lab(output, mask)
    return RecolourMeasures(
        delta_e2000=None if got is None else delta_e(target_lab, got),
        unchanged_outside=unchanged_outside(original, output, mask, tolerance),
        garment_share=float(core(mask).mean()),
    )
