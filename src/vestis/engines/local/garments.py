"""Garments from flat-lay and packshot photos: cut-out (see `cutout`), kind, drawing order.

The kind comes from the note, else the file name, else the silhouette of the cut-out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from vestis.engines.local.cutout import cut_out
from vestis.quality.garments import CutoutMeasures

GarmentKind = Literal["top", "bottom", "dress", "shoes", "outerwear"]

#: Words that name a kind, checked in this order (the first kind with a matching word wins, so
#: "shirt dress" is a dress and "cardigan" is outerwear, not a top).
_KIND_WORDS: list[tuple[GarmentKind, tuple[str, ...]]] = [
    ("shoes", ("shoe", "shoes", "sneaker", "sneakers", "boot", "boots", "heel", "heels",
               "sandal", "sandals", "loafer", "loafers", "footwear", "trainers", "pumps")),
    ("dress", ("dress", "gown", "jumpsuit", "overall", "romper", "playsuit")),
    ("outerwear", ("cardigan", "jacket", "coat", "blazer", "parka", "outerwear", "trench",
                   "puffer", "overshirt", "outer")),
    ("bottom", ("pants", "trousers", "jeans", "skirt", "shorts", "leggings", "bottom", "bottoms",
                "lower", "chinos", "joggers", "culottes")),
    ("top", ("top", "shirt", "tshirt", "tee", "blouse", "vest", "tank", "sweater", "jumper",
             "knit", "hoodie", "sweatshirt", "polo", "camisole", "cami", "upper", "bodysuit",
             "pullover", "tunic", "bra")),
]  # fmt: skip

#: Notes that put a garment over everything else, or under the bottoms.
_OUTER_WORDS = ("outer layer", "layered over", "worn over", "over the", "open", "unbuttoned")
_TUCKED_WORDS = ("tucked", "tuck in", "tuck into")


@dataclass
class Garment:
    """One cut-out garment."""

    rgba: np.ndarray  # cropped to the garment, uint8 RGBA (alpha feathered)
    kind: GarmentKind
    kind_source: str  # "note", "filename" or "shape"
    layer: float  # drawing order: higher is drawn later (on top)
    parts: list[tuple[int, int, int, int]]  # boxes of the separate pieces (two shoes), in rgba
    cutout: CutoutMeasures  # how whole the cut-out is

    @property
    def mask(self) -> np.ndarray:
        return self.rgba[..., 3] > 127


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower().replace("t-shirt", "tshirt"))


def kind_from_text(text: str | None) -> GarmentKind | None:
    """The kind a note or file name names, or None."""
    if not text:
        return None
    words = set(_words(text))
    for kind, names in _KIND_WORDS:
        if words & set(names):
            return kind
    return None


def _leg_gap(crop: np.ndarray) -> float:
    """Height (share of the garment's) of the gap between two legs: backdrop rising from the
    hem in the middle third, with garment on both sides of it at the hem. 0 when there is none
    (a dress's hem is one piece, whatever its trims and holes)."""
    h, w = crop.shape
    hem = crop[int(h * 0.9) : int(h * 0.97)].any(axis=0)
    if not (hem[: int(w * 0.4)].any() and hem[int(w * 0.6) :].any()):
        return 0.0
    best = 0
    for x in range(int(w * 0.35), int(w * 0.65) + 1):
        column = crop[::-1, x]
        run = int(np.argmax(column)) if column.any() else h
        best = max(best, run)
    return best / h


def kind_from_shape(mask: np.ndarray, pieces: int) -> GarmentKind:
    """Guess the kind from the silhouette: two wide pieces are shoes; a gap between two legs
    rising from the hem is trousers (or shorts); a tall shape, or one widening toward the hem,
    is a dress; else a top."""
    ys, xs = np.nonzero(mask)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    if pieces >= 2 and w > h:
        return "shoes"
    # A waistband is solid across the middle (a dress's neckline is not); a leg gap of a
    # quarter of the height or more is trousers or shorts.
    waist = crop[int(h * 0.02) : max(int(h * 0.08), int(h * 0.02) + 1)].mean(axis=0)
    if _leg_gap(crop) > 0.25 and (waist[int(w * 0.35) : int(w * 0.65) + 1] > 0.5).all():
        return "bottom"
    upper = crop[int(h * 0.1) : int(h * 0.3)].sum(axis=1).mean()
    lower = crop[int(h * 0.75) : int(h * 0.95)].sum(axis=1).mean()
    if h > w * 1.25 and (lower > upper * 1.15 or h > w * 1.7):
        return "dress"
    return "top"


def _layer(kind: GarmentKind, note: str | None) -> float:
    text = (note or "").lower()
    base = {"shoes": 1.5, "bottom": 1.0, "top": 2.0, "dress": 2.0, "outerwear": 3.0}[kind]
    if kind in ("top", "dress") and any(w in text for w in _TUCKED_WORDS):
        return 0.5  # under the bottoms
    if any(w in text for w in _OUTER_WORDS):
        return 3.5
    return base


def prepare(rgb: np.ndarray, filename: str, note: str | None) -> Garment:
    """Cut out one flat-lay and decide what it is (note first, then file name, then shape)."""
    cut = cut_out(rgb)
    alpha, boxes = cut.alpha, cut.boxes
    ys, xs = np.nonzero(alpha > 127)
    if len(ys) == 0:
        raise ValueError("no garment found")
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    rgba = np.dstack([rgb, alpha])[y0:y1, x0:x1].copy()
    ch, cw = rgba.shape[:2]
    parts = [
        (max(bx0 - x0, 0), max(by0 - y0, 0), min(bx1 - x0, cw), min(by1 - y0, ch))
        for bx0, by0, bx1, by1 in boxes
    ]
    parts = [b for b in parts if b[2] - b[0] > 2 and b[3] - b[1] > 2] or [(0, 0, cw, ch)]
    kind, source = kind_from_text(note), "note"
    if kind is None:
        stem = re.sub(r"\.[a-z0-9]+$", "", filename.lower())
        kind, source = kind_from_text(stem), "filename"
    if kind is None:
        kind, source = kind_from_shape(rgba[..., 3] > 127, len(parts)), "shape"
    return Garment(rgba=rgba, kind=kind, kind_source=source, layer=_layer(kind, note), parts=parts,
                   cutout=cut.measures)  # fmt: skip


def span_at(mask: np.ndarray, fraction: float) -> tuple[float, float]:
    """Left and right extent of the garment on the row at `fraction` of its height."""
    h = mask.shape[0]
    rows = mask[int(h * fraction) : max(int(h * fraction) + 1, int(h * (fraction + 0.03)))]
    cols = np.nonzero(rows.any(axis=0))[0]
    if len(cols) == 0:
        return 0.0, float(mask.shape[1])
    return float(cols.min()), float(cols.max() + 1)
