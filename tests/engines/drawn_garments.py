"""Hard flat-lays, drawn: white and cream garments on near-white backdrops, the way real
packshots of light garments look (an off-white sweep with a gradient, a soft shadow under the
garment, fold shading, a knit or weave texture, seams, a faint darker rim where the fabric
turns, JPEG noise). Each drawing comes with its true garment mask, so a cut-out can be scored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

WHITE = (250, 250, 248)
CREAM = (241, 233, 214)
IVORY = (246, 242, 231)

#: Backdrops: near-white, off-white, a light grey sweep, a cream paper.
BACKDROPS = {
    "white": (247, 247, 245),
    "offwhite": (240, 238, 233),
    "lightgrey": (232, 232, 230),
    "cream": (243, 238, 227),
}

Points = list[tuple[float, float]]

_SHIRT: Points = [(0.40, 0.06), (0.50, 0.10), (0.60, 0.06), (0.70, 0.09), (0.95, 0.52),
                  (0.88, 0.56), (0.71, 0.30), (0.72, 0.82), (0.28, 0.82), (0.29, 0.30),
                  (0.12, 0.56), (0.05, 0.52), (0.30, 0.09)]  # fmt: skip
_TEE: Points = [(0.38, 0.10), (0.50, 0.15), (0.62, 0.10), (0.74, 0.14), (0.92, 0.30),
                (0.84, 0.40), (0.73, 0.33), (0.73, 0.88), (0.27, 0.88), (0.27, 0.33),
                (0.16, 0.40), (0.08, 0.30), (0.26, 0.14)]  # fmt: skip
_DRESS: Points = [(0.37, 0.04), (0.41, 0.04), (0.44, 0.13), (0.50, 0.17), (0.56, 0.13),
                  (0.59, 0.04), (0.63, 0.04), (0.66, 0.22), (0.62, 0.40), (0.80, 0.95),
                  (0.20, 0.95), (0.38, 0.40), (0.34, 0.22)]  # fmt: skip
_KNIT_DRESS: Points = [(0.33, 0.05), (0.42, 0.05), (0.50, 0.12), (0.58, 0.05), (0.67, 0.05),
                       (0.70, 0.20), (0.66, 0.42), (0.72, 0.95), (0.28, 0.95), (0.34, 0.42),
                       (0.30, 0.20)]  # fmt: skip
_TROUSERS: Points = [(0.28, 0.04), (0.72, 0.04), (0.78, 0.96), (0.55, 0.96), (0.50, 0.36),
                     (0.45, 0.96), (0.22, 0.96)]  # fmt: skip

SHAPES = {
    "shirt": (_SHIRT, "top"),
    "tee": (_TEE, "top"),
    "dress": (_DRESS, "dress"),
    "knit_dress": (_KNIT_DRESS, "dress"),
    "trousers": (_TROUSERS, "bottom"),
}


@dataclass
class Drawn:
    image: Image.Image  # RGB, after a JPEG round trip
    mask: np.ndarray  # bool, the garment's true pixels
    kind: str  # top, dress or bottom


def _polygon_mask(points: Points, w: int, h: int) -> np.ndarray:
    """Anti-aliased polygon coverage in [0, 1] (drawn at 4x and reduced)."""
    big = Image.new("L", (w * 4, h * 4), 0)
    ImageDraw.Draw(big).polygon([(x * w * 4, y * h * 4) for x, y in points], fill=255)
    return np.asarray(big.resize((w, h), Image.Resampling.BOX), dtype=np.float32) / 255.0


def _lines(shape: str, w: int, h: int, trim: bool) -> list[tuple[Points, int]]:
    """Seams and trims: (polyline, width in pixels)."""
    lines: list[tuple[Points, int]] = []
    if shape == "shirt":
        lines += [([(0.50, 0.10), (0.50, 0.82)], 3),
                  ([(0.40, 0.06), (0.47, 0.18), (0.50, 0.10)], 3),
                  ([(0.60, 0.06), (0.53, 0.18), (0.50, 0.10)], 3),
                  ([(0.71, 0.30), (0.70, 0.11)], 2), ([(0.29, 0.30), (0.30, 0.11)], 2),
                  ([(0.90, 0.49), (0.83, 0.53)], 2), ([(0.10, 0.49), (0.17, 0.53)], 2)]  # fmt: skip
    elif shape in ("dress", "knit_dress"):
        lines += [([(0.37, 0.42), (0.63, 0.42)], 2)]
    elif shape == "trousers":
        lines += [([(0.28, 0.10), (0.72, 0.10)], 2), ([(0.50, 0.10), (0.50, 0.30)], 2)]
    if trim and shape == "knit_dress":
        lines += [([(0.42, 0.05), (0.50, 0.12), (0.58, 0.05)], 14),
                  ([(0.67, 0.05), (0.70, 0.20), (0.66, 0.30)], 12),
                  ([(0.33, 0.05), (0.30, 0.20), (0.34, 0.30)], 12),
                  ([(0.28, 0.945), (0.72, 0.945)], 16)]  # fmt: skip
    return [([(x * w, y * h) for x, y in pts], width) for pts, width in lines]


def draw_garment(
    shape: str,
    colour: tuple[int, int, int],
    backdrop: tuple[int, int, int],
    seed: int = 0,
    size: tuple[int, int] = (750, 1000),
    texture: str = "weave",
    trim: bool = False,
    shadow: float = 0.06,
    quality: int = 85,
) -> Drawn:
    """One flat-lay: `shape` (a key of SHAPES) in `colour` on `backdrop`, with fold shading,
    `texture` ("weave": fine noise, "knit": a rib pattern, "smooth"), a soft shadow of depth
    `shadow` (a share of the backdrop's brightness), and a JPEG round trip at `quality`. With
    `trim`, a knit dress gets black trims at the neckline, armholes and hem and black buttons."""
    rng = np.random.default_rng(seed)
    w, h = size
    points, kind = SHAPES[shape]
    cover = _polygon_mask(points, w, h)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    # The garment: folds (broad, gentle shading), texture, a darker rim where the fabric turns.
    folds = np.zeros((h, w), np.float32)
    for _ in range(6):
        cx, cy, r = rng.uniform(0.2, 0.8) * w, rng.uniform(0.1, 0.9) * h, rng.uniform(0.05, 0.2) * w
        folds -= rng.uniform(0.01, 0.035) * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r))
    if texture == "knit":
        rib = 0.018 * np.sin(xs * 2 * np.pi / 7.0) * (0.6 + 0.4 * np.sin(ys * 2 * np.pi / 9.0))
        grain = rib + rng.normal(0, 0.006, (h, w))
    elif texture == "weave":
        grain = cv2.GaussianBlur(rng.normal(0, 0.012, (h, w)).astype(np.float32), (0, 0), 0.8)
    else:
        grain = np.zeros((h, w), np.float32)
    inside = cv2.distanceTransform((cover > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    rim = 0.05 * np.exp(-inside / 2.5)
    fabric = np.array(colour, np.float32)[None, None] * (1 + folds + grain - rim)[..., None]
    layer = Image.fromarray(np.clip(fabric, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(layer)
    seam = tuple(int(c * 0.9) for c in colour)
    trim_colour = (24, 24, 26)
    for line, width in _lines(shape, w, h, trim):
        draw.line(line, fill=trim_colour if width > 8 else seam, width=width, joint="curve")
    if shape == "shirt" or (trim and shape == "knit_dress"):
        button = (226, 224, 218) if shape == "shirt" else trim_colour
        x = 0.515 * w if shape == "shirt" else 0.5 * w
        for y in np.linspace(0.2, 0.76, 6) * h:
            draw.ellipse([x - 7, y - 7, x + 7, y + 7], fill=button)
    image = on_backdrop(np.asarray(layer), cover, backdrop, rng, shadow, quality)
    return Drawn(image=image, mask=cover > 0.5, kind=kind)


def on_backdrop(
    garment: np.ndarray,
    cover: np.ndarray,
    backdrop: tuple[int, int, int],
    rng: np.random.Generator,
    shadow: float = 0.06,
    quality: int = 85,
) -> Image.Image:
    """Lay `garment` (RGB, its pixels where `cover`, in [0, 1], is 1) on a photographed
    backdrop: a sweep lit from one side with a vignette, a soft shadow offset down and right,
    sensor noise, and a JPEG round trip at `quality`."""
    h, w = cover.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = rng.uniform(-1, 1, 2)
    light = 1.0 + 0.012 * tilt[0] * (xs / w - 0.5) + 0.016 * tilt[1] * (ys / h - 0.5)
    light -= 0.018 * (((xs / w - 0.5) / 0.7) ** 2 + ((ys / h - 0.45) / 0.8) ** 2)
    image = np.array(backdrop, np.float32)[None, None] * light[..., None]
    offset = np.float32([[1, 0, 0.008 * w], [0, 1, 0.01 * h]])
    shade = cv2.GaussianBlur(cv2.warpAffine(cover, offset, (w, h)), (0, 0), 0.012 * w)
    image *= (1.0 - shadow * shade)[..., None]
    image = garment.astype(np.float32) * cover[..., None] + image * (1 - cover[..., None])
    image += rng.normal(0, 1.2, image.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(image + 0.5, 0, 255).astype(np.uint8)).save(
        buffer, "JPEG", quality=quality
    )
    return Image.open(buffer).convert("RGB")


def lighten(rgb: np.ndarray, tint: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """A photographed garment made white (tint a*, b* = 0, 1) or cream (about 1, 10): its
    lightness squeezed into the top of the range, its colours faded toward the tint; dark
    prints and trims (L* below about 40) are kept, as on a real white garment."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    light = lab[..., 0]
    weight = np.clip((light - 30.0) / 25.0, 0.0, 1.0)
    weight = weight * weight * (3 - 2 * weight)
    lab[..., 0] = weight * (86.0 + 0.14 * light) + (1 - weight) * light
    for channel, value in ((1, tint[0]), (2, tint[1])):
        lab[..., channel] = lab[..., channel] * (1 - 0.9 * weight) + weight * value
    out = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def white_shirt(seed: int = 0) -> Drawn:
    """A white woven shirt on a near-white backdrop."""
    return draw_garment("shirt", WHITE, BACKDROPS["white"], seed=seed, texture="weave")


def cream_dress(seed: int = 0) -> Drawn:
    """A cream knit dress on an off-white backdrop."""
    return draw_garment("dress", CREAM, BACKDROPS["offwhite"], seed=seed, texture="knit")


def cream_knit_dress_with_trim(seed: int = 0) -> Drawn:
    """A cream knit dress with black trims and buttons on a cream backdrop (the case that was
    cut down to its trims)."""
    return draw_garment("knit_dress", IVORY, BACKDROPS["cream"], seed=seed, texture="knit",
                        trim=True)  # fmt: skip


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks of the same size."""
    union = int((a | b).sum())
    return float((a & b).sum()) / union if union else 1.0
