"""The clothes an identity photo's person already wears, so that new garments replace them.

Skin is told from clothes by a colour model of the person's own face (Lab mean and spread, a
little wider in lightness for the shading of arms and legs); below the chin, what is person and
not skin is clothes. The clothes are split into the upper garment (the colour found on the
chest), the lower garment (the colour found on the thighs) and the shoes (below the ankles), so
that a new top replaces the old top and leaves the jeans, and a new dress replaces both.

An old upper garment is painted over with skin before the new one goes on (a tank top's straps
must not show beside a sleeveless vest); what is left of the old clothes where the new ones
should be is measured, and the caller falls back to a mannequin when too much shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vestis.engines.local.faces import FaceGeometry

#: Pose landmark indices.
_SHOULDERS, _HIPS, _KNEES, _ANKLES = (11, 12), (23, 24), (25, 26), (27, 28)
#: Mahalanobis distance (squared) within which a colour is the face's skin.
_SKIN_DISTANCE2 = 9.0
#: Extra variance (L*, a*, b*) on the face's skin colours: limbs are lit and shaded differently.
_SKIN_SPREAD = (60.0, 6.0, 6.0)


@dataclass
class OwnClothes:
    """Masks (bool, the identity photo's size) of the person's own clothes and skin."""

    upper: np.ndarray
    lower: np.ndarray
    shoes: np.ndarray
    skin: np.ndarray


def _skin_model(lab: np.ndarray, face: FaceGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Mean and inverse covariance of the face's lit skin in Lab (eyes, brows, lips and deep
    shadows left out by lightness)."""
    mask = np.zeros(lab.shape[:2], np.uint8)
    hull = cv2.convexHull(face.oval.astype(np.float32))
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 255)
    pixels = lab[mask > 0]
    lo, hi = np.percentile(pixels[:, 0], [25, 95])
    pixels = pixels[(pixels[:, 0] >= lo) & (pixels[:, 0] <= hi)]
    covariance = np.cov(pixels.T) + np.diag(_SKIN_SPREAD)
    return pixels.mean(axis=0), np.linalg.inv(covariance)


def _core_colour(
    lab: np.ndarray, clothes: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """Median clothes colour in a box (x0, y0, x1, y1), or NaN when no clothes are there."""
    x0, y0, x1, y1 = box
    pixels = lab[y0:y1, x0:x1][clothes[y0:y1, x0:x1]]
    if len(pixels) < 50:
        return np.full(3, np.nan, np.float32)
    return np.median(pixels, axis=0)


def own_clothes(
    rgb: np.ndarray, face: FaceGeometry, landmarks: np.ndarray, person: np.ndarray
) -> OwnClothes:
    """Find the person's skin and clothes in `rgb` (`person`: soft person mask in [0, 1])."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    mean, inverse = _skin_model(lab, face)
    diff = lab - mean
    skin = np.einsum("...i,ij,...j->...", diff, inverse, diff) < _SKIN_DISTANCE2
    on_person = person > 0.5
    chin = float(face.landmarks[152][1])
    shoulder_y = float(landmarks[list(_SHOULDERS), 1].mean())
    clothes = on_person & ~skin
    clothes[: max(int(chin + 0.1 * (shoulder_y - chin)), 0)] = False
    # Hair falling beside the neck is not clothes: above the shoulders, within a face's width
    # of the face's middle, and no lighter than the face (a white strap there is clothes).
    face_x, face_w = float(face.oval[:, 0].mean()), float(np.ptp(face.oval[:, 0]))
    near_head = np.zeros_like(clothes)
    x0, x1 = max(int(face_x - face_w), 0), max(int(face_x + face_w), 0)
    near_head[: max(int(shoulder_y), 0), x0:x1] = True
    clothes &= ~(near_head & (lab[..., 0] <= mean[0] + 5))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    clothes = cv2.morphologyEx(clothes.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0
    skin &= on_person
    # Colours of the upper garment (chest) and lower garment (thighs), then each clothes pixel
    # goes to the nearer of the two.
    shoulders, hips = landmarks[list(_SHOULDERS), :2], landmarks[list(_HIPS), :2]
    knees = landmarks[list(_KNEES), :2]
    hip_y = float(hips[:, 1].mean())
    chest = _box_between(shoulders, hips, 0.25, 0.6, rgb.shape)
    thigh = _box_between(hips, knees, 0.2, 0.6, rgb.shape)
    upper_colour = _core_colour(lab, clothes, chest)
    lower_colour = _core_colour(lab, clothes, thigh)
    shoulder_y, knee_y = float(shoulders[:, 1].mean()), float(knees[:, 1].mean())
    band = (
        max(int(hip_y - 0.35 * (hip_y - shoulder_y)), 0),
        min(int(hip_y + 0.35 * (knee_y - hip_y)), rgb.shape[0] - 1),
    )
    waist = _waist_row(lab, clothes, band, upper_colour, lower_colour)
    ys = np.arange(rgb.shape[0])[:, None]
    is_upper = np.broadcast_to(ys < waist, clothes.shape)
    ankle_y = float(landmarks[list(_ANKLES), 1].mean())
    shoes = clothes & (ys > ankle_y - 0.02 * rgb.shape[0])
    return OwnClothes(
        upper=clothes & is_upper & ~shoes,
        lower=clothes & ~is_upper & ~shoes,
        shoes=shoes,
        skin=skin,
    )


def _waist_row(
    lab: np.ndarray,
    clothes: np.ndarray,
    band: tuple[int, int],
    upper_colour: np.ndarray,
    lower_colour: np.ndarray,
) -> int:
    """The row where the upper garment ends and the lower one begins, within `band` (rows):
    the best split of the rows into nearer-the-top-colour above and nearer-the-bottom-colour
    below when the two colours differ; else the strongest horizontal edge (a hem)."""
    y0, y1 = band
    if y1 <= y0 + 2:
        return y0
    rows = clothes[y0:y1]
    count = np.maximum(rows.sum(axis=1), 1)
    if (
        not (np.isnan(upper_colour).any() or np.isnan(lower_colour).any())
        and float(np.linalg.norm(upper_colour - lower_colour)) > 6.0
    ):
        part = lab[y0:y1]
        nearer_top = np.linalg.norm(part - upper_colour, axis=2) < np.linalg.norm(
            part - lower_colour, axis=2
        )
        top_votes = (nearer_top & rows).sum(axis=1).astype(np.float64)
        bottom_votes = rows.sum(axis=1) - top_votes
        # Cost of a split before row r: top-coloured rows below it, bottom-coloured above it.
        cost = np.concatenate([[0.0], np.cumsum(bottom_votes)]) + np.concatenate(
            [np.cumsum(top_votes[::-1])[::-1], [0.0]]
        )
        return y0 + int(np.argmin(cost))
    light = cv2.GaussianBlur(lab[..., 0], (0, 0), 2.0)
    step = np.abs(cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3))[y0:y1]
    strength = (step * rows).sum(axis=1) / count
    return y0 + int(np.argmax(cv2.GaussianBlur(strength[:, None], (1, 0), 2.0).ravel()))


def _box_between(
    top: np.ndarray, bottom: np.ndarray, t0: float, t1: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """A box between two landmark pairs (each (2, 2)), from t0 to t1 of the way down, half as
    wide as the pairs' mean span, centred."""
    a, b = top.mean(axis=0), bottom.mean(axis=0)
    span = 0.5 * float(np.mean([np.ptp(top[:, 0]), np.ptp(bottom[:, 0])]))
    y0, y1 = a[1] + t0 * (b[1] - a[1]), a[1] + t1 * (b[1] - a[1])
    cx = (a[0] + b[0]) / 2
    h, w = shape[:2]
    return (
        int(np.clip(cx - span / 2, 0, w)),
        int(np.clip(y0, 0, h)),
        int(np.clip(cx + span / 2, 0, w)),
        int(np.clip(y1, 0, h)),
    )


def bare(
    rgb: np.ndarray, region: np.ndarray, skin: np.ndarray, person: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`rgb` with `region` painted as skin (the colour of the nearby skin: arms, neck, chest,
    spread smoothly over the region, rounded like a body, darker toward the silhouette's edge,
    with the photo's grain), and the mask that was painted."""
    if not region.any():
        return rgb, region
    h, w = rgb.shape[:2]
    factor = min(1.0, 256.0 / max(h, w))
    small = (max(1, round(w * factor)), max(1, round(h * factor)))
    weight = cv2.resize(skin.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    colour = cv2.resize(rgb.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    sigma = 0.08 * max(small)
    spread = cv2.GaussianBlur(colour * weight[..., None], (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    fallback = rgb[skin].mean(axis=0) if skin.any() else np.array([200.0, 170.0, 150.0])
    field = np.where(norm > 1e-3, spread / np.maximum(norm, 1e-3), fallback)
    field = cv2.resize(field.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    inside = cv2.distanceTransform((person > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    shade = 0.88 + 0.12 * np.clip(inside / (0.04 * h), 0, 1)
    grain = np.random.default_rng(0).normal(0, 1.5, (h, w, 1)).astype(np.float32)
    painted = np.clip(field * shade[..., None] + grain, 0, 255)
    # A little beyond the region: the clothes' outermost pixels are not in its mask (a pale
    # fringe of the old top would stay at the straps).
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * (h // 300) + 3,) * 2)
    region = (cv2.dilate(region.astype(np.uint8), grow) > 0) & (person > 0.2)
    alpha = cv2.GaussianBlur(region.astype(np.float32), (0, 0), 1.5)[..., None]
    out = rgb.astype(np.float32) * (1 - alpha) + painted * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), region


def full_length(landmarks: np.ndarray, height: int) -> bool:
    """The photo shows the body down to the feet: both ankles seen, inside the frame (pose
    guesses ankles below the frame with some confidence, so the position counts too)."""
    ankles = landmarks[list(_ANKLES)]
    return bool((ankles[:, 2] > 0.5).all() and (ankles[:, 1] < 0.97 * height).all())
