"""Sleeves of tops and outerwear follow the body's arms (flat-to-model on the mannequin)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from vestis.engines.local import flat, sleeves
from vestis.engines.local.body import template_body
from vestis.engines.local.garments import prepare

BLUE = (30, 60, 200)


def _long_sleeve_top(with_sleeves: bool = True) -> np.ndarray:
    """A blue cardigan-like flat-lay, 900 x 800: a torso and two long sleeves spread out at
    about 35 degrees from it (so pasting the flat-lay as one piece misses the hanging arms)."""
    w, h = 900, 800
    image = Image.new("RGB", (w, h), (246, 245, 242))
    draw = ImageDraw.Draw(image)
    torso = [(0.35, 0.08), (0.45, 0.06), (0.50, 0.12), (0.55, 0.06), (0.65, 0.08),
             (0.65, 0.75), (0.35, 0.75)]  # fmt: skip
    draw.polygon([(x * w, y * h) for x, y in torso], fill=BLUE)
    if with_sleeves:
        for side in (-1, 1):
            sleeve = [(0.35, 0.08), (0.02, 0.50), (0.09, 0.58), (0.35, 0.30)]
            points = [(w / 2 + side * (x * w - w / 2), y * h) for x, y in sleeve]
            draw.polygon(points, fill=BLUE)
    return np.asarray(image).copy()


def _dress_mannequin(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    canvas = np.full((1024, 768, 3), 250, dtype=np.uint8)
    identity = np.full((64, 64, 3), 200, dtype=np.uint8)
    body = template_body(canvas, identity, None, np.random.default_rng(3))
    assert body.arms is not None
    garment = prepare(rgb, "cardigan.jpg", None)
    flat._place_upper(canvas, garment, body)
    return canvas, body.arms, body.head_unit


def _blue(canvas: np.ndarray) -> np.ndarray:
    c = canvas.astype(int)
    return (c[..., 2] - c[..., 0] > 100) & (c[..., 2] > 150)


def test_long_sleeves_reach_the_wrists() -> None:
    canvas, arms, hu = _dress_mannequin(_long_sleeve_top())
    blue = _blue(canvas)
    ys, xs = np.mgrid[: blue.shape[0], : blue.shape[1]]
    for _shoulder, elbow, wrist in arms:
        # Along the forearm, from just below the elbow to just above the wrist.
        for t in (0.3, 0.6, 0.85):
            p = elbow + t * (wrist - elbow)
            near = np.hypot(xs - p[0], ys - p[1]) < 0.12 * hu
            assert blue[near].mean() > 0.8, f"no sleeve on the forearm at {t:.0%} to the wrist"


def test_sleeveless_top_is_not_split() -> None:
    rgba = prepare(_long_sleeve_top(with_sleeves=False), "vest.jpg", None).rgba
    torso, found = sleeves.split(rgba)
    assert found == []
    assert torso is rgba
    canvas, arms, hu = _dress_mannequin(_long_sleeve_top(with_sleeves=False))
    wrist = arms[0, 2]
    ys, xs = np.mgrid[: canvas.shape[0], : canvas.shape[1]]
    assert not _blue(canvas)[np.hypot(xs - wrist[0], ys - wrist[1]) < 0.12 * hu].any()


def test_split_finds_two_sleeves_beside_the_torso() -> None:
    rgba = prepare(_long_sleeve_top(), "cardigan.jpg", None).rgba
    torso, found = sleeves.split(rgba)
    assert len(found) == 2
    left, right = found
    assert left.cuff[0] < left.shoulder[0] and right.cuff[0] > right.shoulder[0]
    assert left.cuff[1] > 0.5 * rgba.shape[0] and right.cuff[1] > 0.5 * rgba.shape[0]
    # The torso layer keeps no sleeve: nothing left out at the cuffs.
    width = rgba.shape[1]
    assert torso[:, : int(0.15 * width), 3].max() == 0
    assert torso[:, int(0.85 * width) :, 3].max() == 0
