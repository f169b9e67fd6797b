"""Skin equalisation: bring the visible skin (neck, arms, hands, legs) to the new face's tone.

Skin is found by a colour model seeded from the target's own face (a Gaussian over Lab chroma,
with a lightness range), restricted to the person (selfie segmentation). Only pixels that model
calls skin change; garments and background are copied as they were.
"""

from __future__ import annotations

import cv2
import numpy as np

from vestis.engines.local import models
from vestis.engines.local.faces import FaceGeometry, body_landmarks

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
    rgb: np.ndarray,
    face: FaceGeometry,
    face_alpha: np.ndarray | None = None,
    tone_ramp: np.ndarray | None = None,
) -> np.ndarray:
    """Per-pixel share of the face's tone change to give each pixel of the person in `rgb`
    (0: not skin, left untouched).

    `face_alpha` is the swap's blend weight and `tone_ramp` the share of the tone change the
    swap gave the new face (same size; 1 inside, fading to 0 at the outline): the swap has
    moved each pixel by alpha x ramp already. The change wanted in the end is the ramp around
    the head above the chin (it fades out at the outline into the hair, with no line across
    the forehead) and all of it elsewhere (the lower face runs into the neck, and the body's
    skin follows the face)."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    samples = _face_skin_samples(lab, face)
    if len(samples) < 16:
        return np.zeros(rgb.shape[:2], dtype=np.float32)
    weight = _colour_weight(lab, samples)
    person = models.person_mask(rgb)
    weight *= np.clip((person - 0.5) / 0.3, 0.0, 1.0)
    zeros = np.zeros(weight.shape, dtype=np.float32)
    alpha = face_alpha if face_alpha is not None else zeros
    ramp = tone_ramp if tone_ramp is not None else zeros
    weight[weight < 0.02] = 0.0
    weight *= _attached_to_body(weight > 0.3, face, rgb, alpha > 0)
    weight[alpha > 0] = 1.0  # the new face is skin, whatever the old one had there
    hair = _hair_zone(weight.shape, face)
    wanted = hair * ramp + (1.0 - hair)
    weight *= np.clip(wanted - alpha * ramp, 0.0, 1.0)
    weight[weight < 0.02] = 0.0
    return weight.astype(np.float32)


def _colour_weight(lab: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Skin-likeness by colour: a Gaussian over the face skin's chroma, and a lightness range."""
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
    return weight


def _hair_zone(shape: tuple[int, int], face: FaceGeometry) -> np.ndarray:
    """1 around the head above the chin, where hair is (fair hair has skin's colour and may
    fall beside the cheeks; the face itself belongs to the swap), fading to 0 a little below
    the chin, so that no line of tone change runs across the neck."""
    h, w = shape
    chin_y = float(face.landmarks[152, 1])
    fade = max(face.eye_distance * 0.3, 1.0)
    rows = np.clip((chin_y + fade - np.arange(h, dtype=np.float32)) / fade, 0.0, 1.0)
    face_w = float(face.oval[:, 0].max() - face.oval[:, 0].min())
    cx = float(face.oval[:, 0].mean())
    left, right = max(int(cx - 1.5 * face_w), 0), min(int(cx + 1.5 * face_w), w)
    zone = np.zeros(shape, dtype=np.float32)
    zone[:, left:right] = rows[:, None]
    return zone


def _attached_to_body(
    skin: np.ndarray, face: FaceGeometry, rgb: np.ndarray, new_face: np.ndarray
) -> np.ndarray:
    """Skin pieces that belong to the body: joined to the face (ears, neck, chest, shoulders,
    arms that touch them) or lying on a limb's end or the waist (hands, forearms, knees, feet,
    a bare midriff, found by pose). A skin-coloured stripe on a dress or a nude bag is
    neither, and stays as it is. `new_face`: where the swap changed the face."""
    count, labels = cv2.connectedComponents((skin | new_face).astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(skin.shape, dtype=bool)
    h, w = skin.shape
    seeds = [face.landmarks[152] + (0.0, face.eye_distance * 0.4)]  # under the chin: the neck
    body = body_landmarks(rgb)
    if body is not None:
        seeds += [body[i, :2] for i in _LIMB_ENDS if body[i, 2] > 0.5]
    keep = np.zeros(count, dtype=bool)
    radius = max(2, int(face.eye_distance * 0.2))
    for x, y in seeds:
        xi, yi = int(round(x)), int(round(y))
        x0, x1 = max(xi - radius, 0), min(xi + radius + 1, w)
        y0, y1 = max(yi - radius, 0), min(yi + radius + 1, h)
        # Pose guesses joints under clothes too: only a joint that lies on skin counts.
        if x0 < x1 and y0 < y1 and skin[y0:y1, x0:x1].mean() > 0.5:
            keep[np.unique(labels[y0:y1, x0:x1])] = True
    keep[np.unique(labels[new_face])] = True
    keep[0] = False
    # Grown by a few pixels: the soft edge of a kept piece (weight under the threshold) too.
    grown = cv2.dilate(keep[labels].astype(np.uint8), np.ones((7, 7), np.uint8))
    return grown > 0


#: Pose landmarks at the ends of limbs: elbows, wrists, hands, knees, ankles, feet.
_LIMB_ENDS = [13, 14, 15, 16, 17, 18, 19, 20, 25, 26, 27, 28, 29, 30, 31, 32]


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
