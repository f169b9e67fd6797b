"""Garments from flat-lay and packshot photos: cut-out, kind, and key points.

Flat-lays are shot on plain backgrounds, so the background colour is estimated from the image
border and everything that differs from it in Lab (after morphology and hole filling) is garment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

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


def kind_from_shape(mask: np.ndarray, pieces: int) -> GarmentKind:
    """Guess the kind from the silhouette: two wide pieces are shoes; a gap between legs in the
    lower half is trousers; a tall shape widening toward the hem is a dress; else a top."""
    ys, xs = np.nonzero(mask)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    if pieces >= 2 and w > h:
        return "shoes"
    centre = crop[int(h * 0.6) : int(h * 0.95), int(w * 0.45) : int(w * 0.55)]
    if h > w * 1.2 and centre.size and centre.mean() < 0.5:
        return "bottom"
    upper = crop[int(h * 0.1) : int(h * 0.3)].sum(axis=1).mean()
    lower = crop[int(h * 0.75) : int(h * 0.95)].sum(axis=1).mean()
    if h > w * 1.25 and lower > upper * 1.15:
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


def _background_distance(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    h, w = lab.shape[:2]
    b = max(2, min(h, w) // 50)
    border = np.concatenate(
        [lab[:b].reshape(-1, 3), lab[-b:].reshape(-1, 3), lab[:, :b].reshape(-1, 3),
         lab[:, -b:].reshape(-1, 3)]
    )  # fmt: skip
    background = np.median(border, axis=0)
    border_dist = np.linalg.norm(border - background, axis=1)
    dist = np.linalg.norm(lab - background, axis=2)
    # Threshold from the border's own spread: sensor noise and paper texture stay background.
    threshold = max(5.0, float(np.percentile(border_dist, 95)) * 1.8)
    return dist, threshold


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill holes in the garment (a white print is not background), except a large opening at
    the top: the space between a dress's straps or inside a halter neck is background."""
    h, w = mask.shape
    flood = np.pad(mask, 1).astype(np.uint8) * 255
    cv2.floodFill(flood, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 128)
    holes = (flood[1:-1, 1:-1] == 0).astype(np.uint8)
    filled = mask | holes
    ys = np.nonzero(filled.any(axis=1))[0]
    if len(ys) == 0:
        return filled
    top_band = ys.min() + 0.15 * (ys.max() - ys.min())
    count, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    area = max(int(filled.sum()), 1)
    for index in range(1, count):
        x, y, bw, bh, pixels = stats[index]
        if y <= top_band and pixels > 0.01 * area:
            filled[labels == index] = 0
    return filled


def cut_out(rgb: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Garment alpha (uint8, feathered) for a photo on a plain background, and the boxes of its
    pieces (largest first), at the photo's size."""
    h, w = rgb.shape[:2]
    scale = min(1.0, 800.0 / max(h, w))
    small = cv2.resize(rgb, (max(1, int(w * scale)), max(1, int(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else rgb  # fmt: skip
    dist, threshold = _background_distance(cv2.GaussianBlur(small, (0, 0), 1.0))
    mask = (dist > threshold).astype(np.uint8)
    k = max(3, int(min(mask.shape) * 0.012) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = _fill_holes(mask)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        raise ValueError("no garment found")
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(areas)[::-1]
    keep = [int(i) + 1 for i in order if areas[i] >= 0.15 * areas[order[0]]][:4]
    mask = np.isin(labels, keep).astype(np.uint8) * 255
    if scale < 1:
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    # Pull the edge in by a pixel or two before feathering: the outermost pixels are a mix of
    # garment and backdrop and would leave a light fringe on a darker background.
    inset = max(3, int(round(2.0 / scale)) | 1)
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (inset, inset)))
    alpha = cv2.GaussianBlur(mask, (0, 0), max(0.8, 1.0 / scale * 0.7))
    boxes = []
    for index in keep:
        x, y, bw, bh = stats[index, :4]
        boxes.append(tuple(int(round(v / scale)) for v in (x, y, x + bw, y + bh)))
    return alpha, boxes  # type: ignore[return-value]


def prepare(rgb: np.ndarray, filename: str, note: str | None) -> Garment:
    """Cut out one flat-lay and decide what it is (note first, then file name, then shape)."""
    alpha, boxes = cut_out(rgb)
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
    return Garment(rgba=rgba, kind=kind, kind_source=source, layer=_layer(kind, note), parts=parts)


def span_at(mask: np.ndarray, fraction: float) -> tuple[float, float]:
    """Left and right extent of the garment on the row at `fraction` of its height."""
    h = mask.shape[0]
    rows = mask[int(h * fraction) : max(int(h * fraction) + 1, int(h * (fraction + 0.03)))]
    cols = np.nonzero(rows.any(axis=0))[0]
    if len(cols) == 0:
        return 0.0, float(mask.shape[1])
    return float(cols.min()), float(cols.max() + 1)
