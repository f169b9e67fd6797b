"""Backgrounds from an instruction's words: studio sweeps, plain colours and gradients."""

from __future__ import annotations

import re

import cv2
import numpy as np
from PIL import ImageColor

#: Named backdrops beyond the CSS colour names Pillow knows.
_NAMED: dict[str, tuple[int, int, int]] = {
    "studio": (228, 228, 226),
    "white": (250, 250, 248),
    "offwhite": (242, 240, 234),
    "off white": (242, 240, 234),
    "cream": (243, 236, 220),
    "ivory": (246, 242, 230),
    "beige": (228, 214, 190),
    "sand": (222, 204, 170),
    "taupe": (180, 166, 150),
    "stone": (200, 196, 186),
    "grey": (170, 170, 170),
    "gray": (170, 170, 170),
    "charcoal": (62, 64, 68),
    "black": (18, 18, 20),
    "navy": (28, 40, 78),
    "blush": (236, 200, 196),
    "sage": (176, 190, 160),
    "terracotta": (196, 110, 80),
    "mustard": (212, 170, 60),
    "pastel": (226, 214, 236),
}
_LIGHT = ("light", "pale", "soft", "bright")
_DARK = ("dark", "deep")

DEFAULT_BACKGROUND = "light grey studio"


def _colour_word(text: str) -> tuple[tuple[int, int, int], str] | None:
    """The first colour named in `text` (multi-word names first), with the words used."""
    lowered = text.lower()
    for name in sorted(_NAMED, key=len, reverse=True):
        if name != "studio" and re.search(rf"\b{name}\b", lowered):
            return _NAMED[name], name
    for word in re.findall(r"[a-z]+", lowered):
        try:
            rgb = ImageColor.getrgb(word)
        except ValueError:
            continue
        return (rgb[0], rgb[1], rgb[2]), word
    return None


def _shade(colour: tuple[int, int, int], words: str) -> tuple[int, int, int]:
    c = np.array(colour, dtype=np.float32)
    if any(re.search(rf"\b{w}\b", words) for w in _LIGHT):
        c = c + (255 - c) * 0.45
    if any(re.search(rf"\b{w}\b", words) for w in _DARK):
        c = c * 0.55
    r, g, b = (int(round(v)) for v in np.clip(c, 0, 255))
    return r, g, b


def parse_background(text: str | None) -> tuple[tuple[int, int, int], str, bool]:
    """(base colour, style, understood) for a background description. Style is "flat",
    "studio" (soft vignette sweep) or "gradient" (top to bottom)."""
    words = (text or DEFAULT_BACKGROUND).lower()
    found = _colour_word(words)
    studio = "studio" in words or "backdrop" in words or "seamless" in words
    style = "gradient" if "gradient" in words else ("studio" if studio else "flat")
    if found is None:
        return _NAMED["studio"], "studio", studio or "plain" in words or "gradient" in words
    return _shade(found[0], words), style, True


def render_background(
    width: int, height: int, colour: tuple[int, int, int], style: str, rng: np.random.Generator
) -> np.ndarray:
    """An RGB uint8 backdrop; built small and resized up, since it is smooth."""
    small_w, small_h = max(2, width // 8), max(2, height // 8)
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    yy, xx = ys / max(small_h - 1, 1), xs / max(small_w - 1, 1)
    base = np.array(colour, dtype=np.float32)
    if style == "flat":
        factor = np.ones_like(yy)
    elif style == "gradient":
        factor = 1.04 - 0.16 * yy
    else:  # studio: a lit centre falling off to the corners, and a floor that darkens a little
        cx = 0.5 + float(rng.uniform(-0.08, 0.08))
        r2 = ((xx - cx) / 0.9) ** 2 + ((yy - 0.42) / 1.1) ** 2
        factor = 1.03 - 0.12 * r2 - 0.04 * np.clip(yy - 0.8, 0, None) * 5
    image = np.clip(base[None, None, :] * factor[..., None], 0, 255).astype(np.float32)
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)
