"""Face swap: the identity's inner face, in its own proportions and the target's pose and light,
blended into the target's face outline.

Only pixels under the (feathered) face mask can change; every other pixel of the target is copied
as it was, which is what keeps hair, head outline, body and garments exactly as shot.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vestis.engines.local import tone
from vestis.engines.local.faces import FaceGeometry
from vestis.engines.local.warp import align_identity, destination, warp_maps


@dataclass(frozen=True)
class SwapParams:
    """What varies between variations of one swap."""

    tone_keep: float  # share of the identity's own skin tone kept (0: fully the target's)
    geometry: float  # 0: the target's face shape; 1: the identity's inner-face proportions
    feather: float  # feather width, in eye-corner distances
    shading: float  # how much of the target's broad lighting is put on the new face


def swap_params(
    seed: int, variation: int, face_reference_mode: str, post_process: bool = False
) -> SwapParams:
    """Variation 0 is the canonical result; others draw their parameters from (seed, variation).

    Without post-processing the new face takes the target's skin tone entirely (anything else
    shows as a mask against the ears, forehead and neck); with it, the face keeps half of the
    identity's own tone and skin equalisation brings the rest of the body to it."""
    del face_reference_mode  # both modes keep the identity's proportions in the target's pose
    tone_keep = 0.5 if post_process else 0.0
    if variation == 0:
        return SwapParams(tone_keep=tone_keep, geometry=1.0, feather=0.1, shading=0.8)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, variation])
    return SwapParams(
        tone_keep=float(tone_keep * rng.uniform(0.7, 1.2) if post_process else 0.0),
        geometry=float(rng.uniform(0.7, 0.95)),
        feather=float(rng.uniform(0.07, 0.15)),
        shading=float(rng.uniform(0.2, 0.6)),
    )


@dataclass
class SwapResult:
    image: np.ndarray  # the whole target with the new face, uint8 RGB
    alpha: np.ndarray  # float32 blend weight per pixel of the whole image; 0 = untouched
    face_lab_before: np.ndarray  # mean Lab of the target's face skin
    face_lab_after: np.ndarray  # mean Lab of the new face skin
    fit_residual: float  # landmark misfit after similarity alignment, in eye distances
    seam_error: float  # mean colour difference (Lab) along the inner edge of the blend


def _scaled_identity(
    identity: np.ndarray, face: FaceGeometry, target_eye: float
) -> tuple[np.ndarray, np.ndarray]:
    """Shrink a much larger identity face first, so the warp samples it without aliasing."""
    scale = target_eye / max(face.eye_distance, 1e-3)
    points = face.mesh.astype(np.float64)
    if scale >= 0.6:
        return identity, points
    factor = scale * 1.5
    size = (max(1, int(identity.shape[1] * factor)), max(1, int(identity.shape[0] * factor)))
    return cv2.resize(identity, size, interpolation=cv2.INTER_AREA), points * factor


def _alpha_mask(region: np.ndarray, feather_px: float) -> np.ndarray:
    """Feathered blend weight: 1 well inside `region`, falling to exactly 0 at its edge."""
    mask = region.astype(np.uint8) * 255
    erode = max(1, int(round(feather_px * 1.5)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1))
    core = cv2.erode(mask, kernel)
    sigma = max(feather_px / 2, 0.8)
    alpha = cv2.GaussianBlur(core.astype(np.float32) / 255.0, (0, 0), sigma)
    alpha[alpha < 1.0 / 255.0] = 0.0
    alpha[mask == 0] = 0.0  # never outside the region
    return alpha


def _dark_over_skin(
    rgb: np.ndarray, hull: np.ndarray, brow_y: float, eye: float, lightness_gap: float = 22.0
) -> np.ndarray:
    """Hair (a fringe, strands) or a hat lying over the face in `rgb`: much darker than the
    face's own skin, above the brows or near the face's edge (never the eyes or brows)."""
    lightness = tone.to_lab(rgb)[..., 0]
    rows = np.arange(hull.shape[0])[:, None]
    lower = (hull > 0) & (rows > brow_y + eye * 0.4)
    if lower.sum() < 16:
        return np.zeros(hull.shape, dtype=bool)
    skin_l = float(np.median(lightness[lower]))
    edge = cv2.distanceTransform(hull.astype(np.uint8), cv2.DIST_L2, 3) < eye * 0.15
    zone = (hull > 0) & ((rows < brow_y) | edge)
    hair = (zone & (lightness < skin_l - lightness_gap)).astype(np.uint8)
    size = max(3, int(eye * 0.06) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    hair = cv2.morphologyEx(hair, cv2.MORPH_OPEN, kernel)
    return cv2.dilate(hair, kernel, iterations=2) > 0


def _poisson_clone(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Seamless (Poisson) cloning of `source` into `target` inside `mask`: the face keeps its
    own detail while its colour and brightness meet the target's skin along the whole edge."""
    if mask.sum() < 16:
        return target.copy()
    pad = 4
    src = cv2.copyMakeBorder(source, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    dst = cv2.copyMakeBorder(target, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    m = cv2.copyMakeBorder(mask.astype(np.uint8) * 255, pad, pad, pad, pad, cv2.BORDER_CONSTANT)
    m[: pad + 1], m[-pad - 1 :], m[:, : pad + 1], m[:, -pad - 1 :] = 0, 0, 0, 0
    x, y, bw, bh = cv2.boundingRect(m)
    centre = (x + bw // 2, y + bh // 2)
    try:
        cloned = cv2.seamlessClone(src, dst, m, centre, cv2.NORMAL_CLONE)
    except cv2.error:
        return source
    return cloned[pad:-pad, pad:-pad]


@dataclass(frozen=True)
class _Region:
    """The face's box in the target (with a margin) and the face outline's hull inside it."""

    x0: int
    y0: int
    x1: int
    y1: int
    hull: np.ndarray  # uint8, 1 inside the target's face outline

    @property
    def origin(self) -> tuple[int, int]:
        return self.x0, self.y0

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0 : self.y1, self.x0 : self.x1]


def _region(target: np.ndarray, face: FaceGeometry, eye: float) -> _Region:
    h, w = target.shape[:2]
    oval = face.oval
    margin = int(eye * 0.2) + 2
    x0 = max(int(oval[:, 0].min()) - margin, 0)
    y0 = max(int(oval[:, 1].min()) - margin, 0)
    x1 = min(int(np.ceil(oval[:, 0].max())) + margin, w)
    y1 = min(int(np.ceil(oval[:, 1].max())) + margin, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise ValueError("face region too small")
    hull = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    points = cv2.convexHull((oval - (x0, y0)).astype(np.float32))
    cv2.fillConvexPoly(hull, np.round(points).astype(np.int32), 1)
    return _Region(x0, y0, x1, y1, hull)


def _blend(
    matched: np.ndarray, roi_target: np.ndarray, roi_alpha: np.ndarray, eye: float
) -> np.ndarray:
    """Poisson-cloned at the edge (colour and brightness meet the target's skin), the
    colour-matched face inside (cloning drifts inside: a dark strand on the edge greys a cheek)."""
    cloned = _poisson_clone(matched, roi_target, roi_alpha > 0.02)
    inside = cv2.distanceTransform((roi_alpha > 0.02).astype(np.uint8), cv2.DIST_L2, 3)
    w_inner = np.clip(inside / (eye * 0.4), 0.0, 1.0)[..., None]
    return np.clip(w_inner * matched + (1.0 - w_inner) * cloned + 0.5, 0, 255).astype(np.uint8)


def swap_face(
    target: np.ndarray,
    target_face: FaceGeometry,
    identity: np.ndarray,
    identity_face: FaceGeometry,
    params: SwapParams,
) -> SwapResult:
    """Put `identity_face` onto `target_face`; returns the new image and the blend mask."""
    eye = max(target_face.eye_distance, 2.0)
    identity, id_points = _scaled_identity(identity, identity_face, eye)
    aligned = align_identity(identity_face, target_face)
    dst = destination(target_face, aligned, params.geometry)
    fit_residual = float(np.sqrt(((aligned - target_face.mesh) ** 2).sum(axis=1).mean()) / eye)
    region = _region(target, target_face, eye)
    roi_target = region.crop(target)
    local = dst - region.origin
    brow_y = float(local[[105, 334], 1].min())
    hair = _dark_over_skin(
        roi_target, region.hull, float(target_face.landmarks[[105, 334], 1].min() - region.y0), eye
    )
    map_x, map_y, covered = warp_maps(dst, id_points, region.origin, region.hull > 0)
    # An identity face smaller than the target's is enlarged: cubic keeps its edges crisper.
    interp = cv2.INTER_CUBIC if eye > identity_face.eye_distance else cv2.INTER_LINEAR
    warped = cv2.remap(identity, map_x, map_y, interp, borderMode=cv2.BORDER_REPLICATE)
    # The identity's own hair or hat over its forehead would be pasted as a dark band.
    hat = _dark_over_skin(warped, region.hull & covered, brow_y, eye)
    roi_alpha = _alpha_mask((region.hull > 0) & covered & ~hair & ~hat, params.feather * eye)

    features = tone.feature_weight(roi_alpha.shape, local, eye)
    masks = tone.FaceMasks(
        core=roi_alpha,
        features=features,
        lips=tone.feature_weight(roi_alpha.shape, local, eye, [tone.FEATURES[-1]]),
        target_features=tone.feature_weight(roi_alpha.shape, target_face.mesh - region.origin, eye),
    )
    matched = tone.match_colour(warped, roi_target, masks, eye, params.shading)
    matched = tone.match_grain(
        matched,
        roi_target,
        (masks.target_features < 0.05) & (roi_alpha > 0.5),
        (features < 0.05) & (roi_alpha > 0.5),
    )
    inner = cv2.erode(region.hull, np.ones((3, 3), np.uint8), iterations=max(1, int(eye * 0.25)))
    matched = tone.match_sharpness(
        matched,
        roi_target,
        (inner > 0) & (roi_alpha > 0.9),
        np.maximum(features, _nose(local, roi_alpha.shape, eye)),
    )
    cloned = _blend(matched, roi_target, roi_alpha, eye)
    if params.tone_keep > 0:
        cloned = tone.shift_tone(
            cloned, roi_alpha, params.tone_keep * tone.tone_gap(warped, roi_target, roi_alpha)
        )
    a = roi_alpha[..., None]
    blended = np.clip(a * cloned.astype(np.float32) + (1.0 - a) * roi_target, 0, 255)
    blended = np.round(blended).astype(np.uint8)
    out = target.copy()
    changed = roi_alpha > 0
    region.crop(out)[changed] = blended[changed]
    alpha = np.zeros(target.shape[:2], dtype=np.float32)
    region.crop(alpha)[...] = roi_alpha
    return SwapResult(
        image=out,
        alpha=alpha,
        face_lab_before=tone.skin_mean_lab(roi_target, roi_alpha > 0.9),
        face_lab_after=tone.skin_mean_lab(blended, roi_alpha > 0.9),
        fit_residual=fit_residual,
        seam_error=_seam_error(blended, roi_target, roi_alpha),
    )


def _nose(points: np.ndarray, shape: tuple[int, int], eye: float) -> np.ndarray:
    """Weight on the nose (its ridge, tip and wings), like `tone.feature_weight`."""
    return tone.feature_weight(shape, points, eye, [_NOSE])


#: Face-mesh points around the nose: bridge, wings and tip.
_NOSE = [168, 122, 351, 114, 343, 129, 358, 98, 327, 2, 94, 19, 1, 4, 5, 195, 197, 6]


def _seam_error(blended: np.ndarray, roi_target: np.ndarray, roi_alpha: np.ndarray) -> float:
    """Mean colour difference (Lab) along the inner edge of the blend."""
    ring = (roi_alpha > 0.05) & (roi_alpha < 0.6)
    if not ring.any():
        return 0.0
    diff = tone.to_lab(blended) - tone.to_lab(roi_target)
    return float(np.linalg.norm(diff[ring], axis=1).mean())
