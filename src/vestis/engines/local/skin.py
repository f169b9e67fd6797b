"""Skin equalisation: bring the visible skin (neck, arms, hands, legs) to the new face's tone.

Skin is found by a colour model seeded from the target's own face (a Gaussian over Lab chroma,
with a lightness range), restricted to the person (selfie segmentation). Only pixels that model
calls skin change; garments and background are copied as they were.
"""

from __future__ import annotations

import cv2
import numpy as np

from vestis.engines.local import models
from vestis.engines.local.faces import FaceGeometry

#: Mahalanobis distances (in the face's chroma distribution) where skin weight starts to fall
#: and where it reaches zero.
_FULL_WEIGHT, _ZERO_WEIGHT = 2.0, 3.2


def _face_skin_samples(lab: np.ndarray, face: FaceGeometry) -> np.ndarray:
    h, w = lab.shape[:2]
    mask = np.zeros((h, w), dtype=np.uint8)
    cv2.fillConvexPoly(
        mask, np.round(cv2.convexHull(face.oval.astype(np.float32))).astype(np.int32), 255
    )
    size = max(3, int(face.eye_distance * 0.25) | 1)
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    samples = lab[mask > 0]
    if len(samples) < 16:
        return samples
    lo, hi = np.percentile(samples[:, 0], [15, 90])
    return samples[(samples[:, 0] >= lo) & (samples[:, 0] <= hi)]


def skin_weight(
    rgb: np.ndarray, face: FaceGeometry, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Per-pixel skin weight in [0, 1] for the person in `rgb` (0: not skin, left untouched).

    `exclude` (bool, same size) marks pixels never to touch (the swapped face)."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    samples = _face_skin_samples(lab, face)
    if len(samples) < 16:
        return np.zeros(rgb.shape[:2], dtype=np.float32)
    chroma = samples[:, 1:]
    mean = chroma.mean(axis=0)
    cov = np.cov(chroma.T) + np.eye(2) * 4.0  # floor: a very even face must not give a needle
    inv = np.linalg.inv(cov)
    diff = lab[..., 1:] - mean
    dist = np.sqrt(np.einsum("...i,ij,...j->...", diff, inv, diff))
    weight = np.clip((_ZERO_WEIGHT - dist) / (_ZERO_WEIGHT - _FULL_WEIGHT), 0.0, 1.0)
    l_lo, l_hi = np.percentile(samples[:, 0], [5, 98])
    lightness = lab[..., 0]
    # Skin in shadow (under the jaw, inside an arm) is darker than the face, but not by much:
    # fair hair and warm wood have skin's colour and differ mostly in lightness.
    weight[(lightness < l_lo - 15) | (lightness > l_hi + 10)] = 0.0
    person = models.person_mask(rgb)
    weight *= np.clip((person - 0.5) / 0.3, 0.0, 1.0)
    # Above the brows, around the head, is hair: the forehead itself belongs to the face swap.
    h, w = weight.shape
    brow_y = int(face.landmarks[[105, 334], 1].min())
    face_w = float(face.oval[:, 0].max() - face.oval[:, 0].min())
    cx = float(face.oval[:, 0].mean())
    left, right = max(int(cx - 1.5 * face_w), 0), min(int(cx + 1.5 * face_w), w)
    weight[: max(brow_y, 0), left:right] = 0.0
    if exclude is not None:
        weight[exclude] = 0.0
    weight[weight < 0.02] = 0.0
    return weight.astype(np.float32)


def equalise_skin(rgb: np.ndarray, weight: np.ndarray, delta_lab: np.ndarray) -> np.ndarray:
    """Shift skin pixels by `delta_lab` (the new face's tone minus the old one), by weight."""
    out = rgb.copy()
    sel = weight > 0
    if not sel.any():
        return out
    lab = cv2.cvtColor(rgb[sel].reshape(-1, 1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    # Chroma fully, lightness half: the target's lighting on the body is real and must stay.
    shift = np.array([0.5 * delta_lab[0], delta_lab[1], delta_lab[2]], dtype=np.float32)
    lab = lab + weight[sel].reshape(-1, 1, 1) * shift
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    shifted = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).reshape(-1, 3)
    out[sel] = np.clip(shifted * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out
