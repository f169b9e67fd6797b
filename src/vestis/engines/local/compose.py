"""Pasting a warped RGBA layer onto a canvas, touching only the layer's footprint."""

from __future__ import annotations

import cv2
import numpy as np


def paste_affine(
    canvas: np.ndarray, rgba: np.ndarray, matrix: np.ndarray, layer: np.ndarray | None = None
) -> None:
    """Alpha-composite `rgba` warped by the 2x3 `matrix` onto the RGB uint8 `canvas`, in place;
    when given, `layer` (uint8, the canvas's height and width) keeps the largest alpha drawn at
    each pixel, so that what was drawn where can be measured.

    Only the bounding box of the warped layer is computed, which keeps 4K canvases fast."""
    h, w = rgba.shape[:2]
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64)
    moved = corners @ matrix[:, :2].T + matrix[:, 2]
    x0 = max(int(np.floor(moved[:, 0].min())) - 1, 0)
    y0 = max(int(np.floor(moved[:, 1].min())) - 1, 0)
    x1 = min(int(np.ceil(moved[:, 0].max())) + 1, canvas.shape[1])
    y1 = min(int(np.ceil(moved[:, 1].max())) + 1, canvas.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    local = matrix.astype(np.float64).copy()
    local[:, 2] -= (x0, y0)
    scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale < 0.5:  # shrinking a lot: pre-filter so the warp does not alias fine patterns
        factor = scale * 1.5
        small = cv2.resize(rgba, (max(1, int(w * factor)), max(1, int(h * factor))),
                           interpolation=cv2.INTER_AREA)  # fmt: skip
        local[:, :2] /= factor
        rgba = small
    warped = cv2.warpAffine(rgba, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))  # fmt: skip
    blend(canvas, warped, x0, y0, layer)


def blend(
    canvas: np.ndarray, rgba: np.ndarray, x0: int, y0: int, layer: np.ndarray | None = None
) -> None:
    """Alpha-composite `rgba` onto `canvas` with its top-left corner at (x0, y0), recording its
    alpha in `layer` (see `paste_affine`)."""
    y1, x1 = y0 + rgba.shape[0], x0 + rgba.shape[1]
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    blended = rgba[..., :3].astype(np.float32) * alpha + region * (1.0 - alpha)
    canvas[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    if layer is not None:
        np.maximum(layer[y0:y1, x0:x1], rgba[..., 3], out=layer[y0:y1, x0:x1])


def similarity(scale: float, angle: float, src: tuple[float, float], dst: tuple[float, float],
               scale_y: float | None = None) -> np.ndarray:  # fmt: skip
    """2x3 matrix: scale (optionally a different vertical scale) and rotate about `src`, then
    move `src` to `dst`."""
    sy = scale if scale_y is None else scale_y
    c, s = np.cos(angle), np.sin(angle)
    linear = np.array([[c, -s], [s, c]]) @ np.diag([scale, sy])
    offset = np.array(dst) - linear @ np.array(src)
    return np.hstack([linear, offset[:, None]])
