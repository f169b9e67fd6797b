"""Where each garment belongs on a body, and how well it got there (flat-to-model's output
measures, from the layers the engine drew; see `vestis.quality.garments`).

A garment's region is the part of the body any garment of its kind covers, whatever its cut:
a top covers the chest (a cropped top too), trousers and skirts the hips and the top of the
thighs, a dress both. Shoes have no region: they are measured by their area only.
"""

from __future__ import annotations

import cv2
import numpy as np

from vestis.engines.local.body import Body
from vestis.engines.local.garments import Garment
from vestis.quality.garments import PlacementMeasures, measure_placement

#: Which of the body's own garments a new garment of each kind takes the place of.
REPLACES = {
    "top": frozenset({"upper"}),
    "outerwear": frozenset({"upper"}),
    "dress": frozenset({"upper", "lower"}),
    "bottom": frozenset({"lower"}),
    "shoes": frozenset(),
}


def _band(
    canvas: np.ndarray, top: np.ndarray, bottom: np.ndarray, width: float, t0: float, t1: float
) -> None:
    """Fill (in place) a quadrilateral from t0 to t1 of the way from the midpoint of `top` to
    the midpoint of `bottom` (each (2, 2) landmark pairs), `width` pixels wide."""
    a, b = top.mean(axis=0), bottom.mean(axis=0)
    start, end = a + t0 * (b - a), a + t1 * (b - a)
    along = (end - start) / max(float(np.linalg.norm(end - start)), 1e-6)
    across = np.array([-along[1], along[0]]) * width / 2
    quad = np.array([start - across, start + across, end + across, end - across])
    cv2.fillConvexPoly(canvas, np.round(quad).astype(np.int32), 1)


def region(body: Body, kind: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The body region (bool, canvas size) a garment of `kind` must cover; None for shoes."""
    mask = np.zeros(shape, np.uint8)
    chest = 0.6 * body.chest_span
    hips = 0.6 * body.hip_span
    if kind in ("top", "outerwear", "dress"):
        _band(mask, body.shoulders, body.hips, chest, 0.2, 0.55)
    if kind in ("bottom", "dress"):
        _band(mask, body.hips, body.knees, hips, 0.0, 0.3)
    if kind == "shoes":
        return None
    return mask > 0


def measure(
    body: Body, garments: list[Garment], layers: list[np.ndarray]
) -> list[PlacementMeasures]:
    """Measure each garment on the canvas from `layers` (uint8 alpha each garment drew, in
    drawing order): the region it covers, its visible area, the body's own clothes still
    showing where it replaced them and the skin painted over them (relative to its region's
    area), a body ending mid-frame."""
    shape = layers[0].shape if layers else (1, 1)
    drawn = [layer > 127 for layer in layers]
    covered = np.logical_or.reduce(drawn) if drawn else np.zeros(shape, bool)
    results = []
    for index, garment in enumerate(garments):
        above = np.logical_or.reduce(drawn[index + 1 :]) if index + 1 < len(drawn) else None
        visible = drawn[index] & ~above if above is not None else drawn[index]
        replaced = REPLACES[garment.kind]
        own = [body.own_clothes[name] for name in replaced if name in body.own_clothes]
        old = (np.logical_or.reduce(own) & ~covered) if own else None
        bared = body.own_clothes.get("bared") if "upper" in replaced else None
        bare = bared & ~covered if bared is not None else None
        where = region(body, garment.kind, shape)
        if where is None:  # shoes: on the feet, visible
            where = drawn[index]
        results.append(
            measure_placement(drawn[index], visible, where, old, bare, not body.full_length)
        )
    return results
