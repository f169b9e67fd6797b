"""Pixel measures: what a swap left untouched, and how sharp the new face is."""

from __future__ import annotations

import cv2
import numpy as np

from vestis.quality.faces import Box

#: A pixel is unchanged when no channel moved by more than this (JPEG re-encoding noise).
TOLERANCE = 3


def head_region(face_box: Box, size: tuple[int, int]) -> Box:
    """The region a model swap may change, from the target's face box (dlib's, brows to chin):
    the face, forehead and hair, ears and the top of the neck. Everything outside it is garment,
    body or background, and must come back as it was. Clipped to the image (width, height)."""
    left, top, right, bottom = face_box
    w, h = right - left, bottom - top
    return (
        max(int(left - 0.5 * w), 0),
        max(int(top - 0.8 * h), 0),
        min(int(right + 0.5 * w), size[0]),
        min(int(bottom + 0.5 * h), size[1]),
    )


def unchanged_share(
    output: np.ndarray, reference: np.ndarray, region: Box | None, tolerance: int = TOLERANCE
) -> float:
    """Share of the pixels outside `region` (all of them when None) whose every channel is within
    `tolerance` of `reference`. An output of another size is compared after resizing it to the
    reference's size (its pixels cannot be the reference's)."""
    if output.shape != reference.shape:
        output = cv2.resize(output, (reference.shape[1], reference.shape[0]))
    diff = np.abs(output.astype(np.int16) - reference.astype(np.int16)).max(axis=2)
    same = diff <= tolerance
    outside = np.ones(same.shape, dtype=bool)
    if region is not None:
        outside[region[1] : region[3], region[0] : region[2]] = False
    total = int(outside.sum())
    return float(same[outside].sum()) / total if total else 1.0


def inner_face(face_box: Box) -> Box:
    """The inner face (eyes, nose, mouth and the skin between) inside dlib's face box: where a
    smeared swap shows, without the hair and the background at the box's edges."""
    left, top, right, bottom = face_box
    w, h = right - left, bottom - top
    return (
        int(left + 0.2 * w),
        int(top + 0.2 * h),
        int(right - 0.2 * w),
        int(bottom - 0.1 * h),
    )


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian of the grey image inside `box` (clipped to the image)."""
    h, w = rgb.shape[:2]
    x0, y0 = max(box[0], 0), max(box[1], 0)
    x1, y1 = min(box[2], w), min(box[3], h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def sharpness_ratio(output: np.ndarray, target: np.ndarray, face_box: Box) -> float | None:
    """Sharpness of the output's inner face over the target's, at the same pixels (a model swap
    keeps the face where it was). 1 = as sharp as the photo; below 0.7 looks smeared."""
    if output.shape != target.shape:
        return None
    box = inner_face(face_box)
    before = sharpness(target, box)
    if before <= 0:
        return None
    return sharpness(output, box) / before
