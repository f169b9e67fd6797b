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
from vestis.quality.face_traits import INNER_LIPS


@dataclass(frozen=True)
class SwapParams:
    """What varies between variations of one swap."""

    tone_keep: float  # share of the identity's own skin tone kept (0: fully the target's)
    geometry: float  # 0: the target's face shape; 1: the identity's inner-face proportions
    feather: float  # feather width, in eye-corner distances
    shading: float  # how much of the target's broad lighting is put on the new face
    #: Lightness coarser than this (eye-corner distances) is the photo's (`_photo_light`).
    light: float = 0.12


#: Identity retries (SwapSpec.retry 1, 2, ...): the identity's proportions in full, a tighter
#: blend (less of the target's own cheeks and jaw) and less of the target's broad shading (less
#: of its face's relief). Each step moves the face measure ~0.01-0.05 toward the identity
#: (benchmarks: 31 held-out pairs), at the cost of a harder edge; the server keeps a retry only
#: when it is measured better.
_RETRY_LADDER = ((0.015, 0.4), (0.010, 0.2))


def swap_params(
    seed: int,
    variation: int,
    face_reference_mode: str,
    post_process: bool = False,
    retry: int = 0,
) -> SwapParams:
    """Variation 0 is the canonical result; others draw their parameters from (seed, variation);
    a retry (see `_RETRY_LADDER`) pushes toward the identity whatever the variation.

    Without post-processing the new face takes the target's skin tone entirely (anything else
    shows as a mask against the ears, forehead and neck); with it, the face keeps half of the
    identity's own tone and skin equalisation brings the rest of the body to it."""
    del face_reference_mode  # both modes keep the identity's proportions in the target's pose
    tone_keep = 0.5 if post_process else 0.0
    if retry > 0:
        feather, shading = _RETRY_LADDER[min(retry, len(_RETRY_LADDER)) - 1]
        return SwapParams(tone_keep=tone_keep, geometry=1.0, feather=feather, shading=shading)
    if variation == 0:
        return SwapParams(tone_keep=tone_keep, geometry=1.0, feather=0.025, shading=0.8)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, variation])
    return SwapParams(
        tone_keep=float(tone_keep * rng.uniform(0.7, 1.2) if post_process else 0.0),
        geometry=float(rng.uniform(0.8, 0.95)),
        # A wider blend gives the target's own cheeks and jaw back, and with them its look:
        # variations stay narrow.
        feather=float(rng.uniform(0.02, 0.05)),
        shading=float(rng.uniform(0.2, 0.6)),
        light=float(rng.uniform(0.16, 0.3)),
    )


@dataclass
class SwapResult:
    image: np.ndarray  # the whole target with the new face, uint8 RGB
    alpha: np.ndarray  # float32 blend weight per pixel of the whole image; 0 = untouched
    face_lab_before: np.ndarray  # mean Lab of the target's face skin
    face_lab_after: np.ndarray  # mean Lab of the new face skin
    fit_residual: float  # landmark misfit after similarity alignment, in eye distances
    seam_error: float  # mean colour difference (Lab) along the inner edge of the blend
    #: Share of the face's tone change (post_process) given to each pixel of the new face
    #: before blending: 1 inside, fading to 0 over a third of an eye distance at the outline.
    tone_ramp: np.ndarray | None = None


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
    # Opened by a small disc only: single strands count (a loose strand across a cheek is
    # hair too), specks of noise do not.
    hair = cv2.morphologyEx(hair, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    size = max(3, int(eye * 0.04) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.dilate(hair, kernel) > 0


def _without_own_hair(
    warped: np.ndarray, hull: np.ndarray, brow_y: float, eye: float, features: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The identity's own hair over its face (a fringe, loose strands) or a hat brim: thin
    strands are painted over with the skin around them (inpainting); what is too broad for
    that is returned as a mask to leave out of the blend (the target's skin shows there).
    Strands are found as much darker than the skin, or as thin lines darker than what is
    around them, on the forehead down to the brows and near the edge (not the brows, eyes or
    lips, `features`)."""
    hair = _dark_over_skin(warped, hull, brow_y, eye)
    lightness = tone.to_lab(warped)[..., 0]
    size = max(3, int(eye * 0.1) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    lines = cv2.morphologyEx(lightness, cv2.MORPH_BLACKHAT, kernel) > 12.0
    rows = np.arange(hull.shape[0])[:, None]
    edge = cv2.distanceTransform(hull.astype(np.uint8), cv2.DIST_L2, 3) < eye * 0.2
    zone = (hull > 0) & ((rows < brow_y + eye * 0.25) | edge) & (features < 0.05)
    hair |= zone & lines
    if not hair.any():
        return warped, hair
    hair = cv2.dilate(hair.astype(np.uint8), np.ones((3, 3), np.uint8))
    size = max(3, int(eye * 0.12) | 1)
    broad = cv2.morphologyEx(
        hair, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    )
    return _inpaint(warped, hair, eye), broad > 0


def _inpaint(rgb: np.ndarray, mask: np.ndarray, eye: float) -> np.ndarray:
    """`rgb` with `mask` painted over from around it; a large mask (a fringe, a hat) is painted
    on a smaller copy (inpainting time grows with the area), then only its pixels are taken."""
    radius = float(np.clip(eye * 0.03, 2.0, 5.0))
    factor = int(np.sqrt(mask.sum() / 4000.0)) + 1
    if factor == 1:
        return cv2.inpaint(rgb, mask, radius, cv2.INPAINT_TELEA)
    h, w = mask.shape
    size = (max(1, w // factor), max(1, h // factor))
    small = cv2.inpaint(
        cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
        (cv2.resize(mask, size, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8),
        max(1.0, radius / factor),
        cv2.INPAINT_TELEA,
    )
    painted = rgb.copy()
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    painted[mask > 0] = big[mask > 0]
    return painted


def _skin_at_edge(
    warped: np.ndarray, alpha: np.ndarray, features: np.ndarray, eye: float
) -> np.ndarray:
    """Weight (0..1) that keeps, near the face's outline, only what is skin in the identity
    photo: its own outline carries hair at the temples, an ear, a hat brim or background,
    which must not be pasted onto the target (the target's own skin shows there instead)."""
    lab = tone.to_lab(warped)
    inner = (alpha > 0.9) & (features < 0.05)
    if inner.sum() < 32:
        return np.ones(alpha.shape, dtype=np.float32)
    skin = tone.skin_likeness(lab, lab[inner])
    edge = cv2.distanceTransform((alpha > 0).astype(np.uint8), cv2.DIST_L2, 3)
    near = np.clip(1.0 - edge / (eye * 0.3), 0.0, 1.0) * (1.0 - features)
    weight = 1.0 - near * (1.0 - skin)
    return cv2.GaussianBlur(weight.astype(np.float32), (0, 0), max(0.8, eye * 0.03))


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
    crop_target: np.ndarray  # the target's pixels in the box

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
    return _Region(x0, y0, x1, y1, hull, target[y0:y1, x0:x1])


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
    aligned = align_identity(identity_face, target_face)
    dst = destination(target_face, aligned, params.geometry)
    region = _region(target, target_face, eye)
    roi_target = region.crop(target)
    warped, covered = _warp_identity(identity, identity_face, dst, region, eye)
    masks, warped = _face_masks(warped, covered, target_face, dst, region, params.feather)
    face = _new_face(warped, roi_target, masks, eye, params, eye / identity_face.eye_distance)
    blended = _paste(face, roi_target, masks.core)
    out = target.copy()
    changed = masks.core > 0
    region.crop(out)[changed] = blended[changed]
    out = _as_sharp_as_photo(out, target, masks.core, region, target_face)
    alpha = np.zeros(target.shape[:2], dtype=np.float32)
    region.crop(alpha)[...] = masks.core
    ramp = np.zeros(target.shape[:2], dtype=np.float32)
    region.crop(ramp)[...] = masks.tone_ramp
    return SwapResult(
        image=out,
        alpha=alpha,
        face_lab_before=tone.skin_mean_lab(roi_target, masks.core > 0.9),
        face_lab_after=tone.skin_mean_lab(blended, masks.core > 0.9),
        fit_residual=float(np.sqrt(((aligned - target_face.mesh) ** 2).sum(axis=1).mean()) / eye),
        seam_error=_seam_error(blended, roi_target, masks.core),
        tone_ramp=ramp,
    )


def _warp_identity(
    identity: np.ndarray, face: FaceGeometry, dst: np.ndarray, region: _Region, eye: float
) -> tuple[np.ndarray, np.ndarray]:
    """The identity's face warped onto `dst` (mesh points in the target), over the region;
    and where the warp covers it."""
    identity, points = _scaled_identity(identity, face, eye)
    map_x, map_y, covered = warp_maps(dst, points, region.origin, region.hull > 0)
    # An identity face smaller than the target's is enlarged: cubic keeps its edges crisper.
    interp = cv2.INTER_CUBIC if eye > face.eye_distance else cv2.INTER_LINEAR
    warped = cv2.remap(identity, map_x, map_y, interp, borderMode=cv2.BORDER_REPLICATE)
    return warped, covered


def _face_masks(
    warped: np.ndarray,
    covered: np.ndarray,
    target_face: FaceGeometry,
    dst: np.ndarray,
    region: _Region,
    feather: float,
) -> tuple[tone.FaceMasks, np.ndarray]:
    """The blend weight (the target's face outline, less the target's hair over its face and
    what is not skin at the identity's own edge) and the feature weights; and the warped
    identity with its own strands of hair painted out."""
    eye = max(target_face.eye_distance, 2.0)
    local = dst - region.origin
    target_brow = float(target_face.landmarks[[105, 334], 1].min()) - region.y0
    hair = _dark_over_skin(region.crop_target, region.hull, target_brow, eye)
    features = tone.feature_weight(region.hull.shape, local, eye)
    brow_y = float(local[[105, 334], 1].min())
    warped, hat = _without_own_hair(warped, region.hull & covered, brow_y, eye, features)
    alpha = _alpha_mask((region.hull > 0) & covered & ~hair & ~hat, feather * eye)
    alpha *= _skin_at_edge(warped, alpha, features, eye)
    photo_points = target_face.landmarks - region.origin
    alpha *= 1.0 - _photo_mouth(photo_points, alpha.shape, eye)
    alpha *= _below_hairline(photo_points, alpha.shape, eye)
    alpha[alpha < 1.0 / 255.0] = 0.0
    masks = tone.FaceMasks(
        core=alpha,
        features=features,
        lips=tone.feature_weight(alpha.shape, local, eye, [tone.FEATURES[-1]]),
        target_features=tone.feature_weight(alpha.shape, target_face.mesh - region.origin, eye),
        nose=tone.feature_weight(alpha.shape, local, eye, [_NOSE]),
        tone_ramp=_inward_ramp(alpha > 0, eye * 0.35),
    )
    return masks, warped


def _photo_mouth(points: np.ndarray, shape: tuple[int, ...], eye: float) -> np.ndarray:
    """Weight (0..1) of the photo's own mouth opening (teeth, tongue, the dark of an open
    mouth): kept from the photo, so the new face never shows another mouth's teeth; the lips
    around it are the identity's, in the photo's shape."""
    mask = np.zeros(shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(points[INNER_LIPS]).astype(np.int32)], 1)
    sigma = max(0.6, eye * 0.012)
    return np.clip(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma) * 1.3, 0.0, 1.0)


def _photo_light(
    face: np.ndarray, roi_target: np.ndarray, core: np.ndarray, eye: float, light: float
) -> np.ndarray:
    """The photo's own light and colour at every place of the new face, the identity's detail
    on top: lightness coarser than an eyelid and colour coarser than a cheek come from the
    photo (its light falls on a face of the photo's geometry, which the swap keeps), so the
    identity's own shadows, stubble and make-up do not arrive as grey or dark patches."""
    inside = (core > 0.02).astype(np.float32)
    lab, ref = tone.to_lab(face), tone.to_lab(roi_target)
    out = lab.copy()
    for c, scale in ((0, light), (1, _COLOUR_SCALE), (2, _COLOUR_SCALE)):
        sigma = max(eye * scale, 1.0)
        own = tone.masked_blur(lab[..., c], inside, sigma)
        theirs = tone.masked_blur(ref[..., c], inside, sigma)
        out[..., c] = lab[..., c] - own + theirs
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    return tone.to_rgb(out)


#: In eye-corner distances: colour coarser than this is the photo's (lightness: by
#: `SwapParams.light`); finer, the identity's: its eyes, brows, nose and lips.
_COLOUR_SCALE = 0.2


def _photo_lips(
    face: np.ndarray, roi_target: np.ndarray, lips: np.ndarray, eye: float
) -> np.ndarray:
    """On the lips, the photo's colour and shading with a little of the identity's finer relief
    (its lips' lines): lips are where make-up and the photo's light show most, and an
    identity's darker or painted lips pasted on read as a smear."""
    lab, ref = tone.to_lab(face), tone.to_lab(roi_target)
    sigma = max(eye * _LIP_DETAIL, 0.8)
    lips_lab = ref.copy()
    relief = lab[..., 0] - cv2.GaussianBlur(lab[..., 0], (0, 0), sigma)
    lips_lab[..., 0] = cv2.GaussianBlur(ref[..., 0], (0, 0), sigma) + _LIP_RELIEF * relief
    weight = lips[..., None]
    out = weight * lips_lab + (1.0 - weight) * lab
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    return tone.to_rgb(out)


#: The identity's lip relief kept: finer than this share of the eye-corner distance, at this
#: strength. In full, an identity's lip border and highlights (strongest on dark, full lips)
#: came out as a dark outline round pale lips (graded C on 8 of 12 photos with one identity);
#: at 0.3 the lips read as the photo's, the face measure moves 0.01-0.03.
_LIP_DETAIL = 0.06
_LIP_RELIEF = 0.3


def _below_hairline(points: np.ndarray, shape: tuple[int, ...], eye: float) -> np.ndarray:
    """1 up to a little above the photo's brows, fading to 0 over the upper forehead, along
    the face's own vertical axis: the identity's upper forehead carries its hairline, its hat
    or its own light, which show as a pale or dark band under the photo's hair; the forehead
    says little of who someone is."""
    top = (points[33] + points[263]) / 2
    axis = points[152] - top
    axis = axis / max(float(np.linalg.norm(axis)), 1e-3)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    along = (xs - top[0]) * axis[0] + (ys - top[1]) * axis[1]
    brows = float(min((points[i] - top) @ axis for i in (105, 334, 66, 296)))
    full, none = brows - eye * _FOREHEAD_FULL, brows - eye * _FOREHEAD_NONE
    ramp = np.clip((along - none) / max(full - none, 1.0), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)


#: Above the brows, in eye-corner distances: the identity's forehead in full up to the first,
#: none from the second.
_FOREHEAD_FULL, _FOREHEAD_NONE = 0.15, 0.4


def _as_sharp_as_photo(
    out: np.ndarray, target: np.ndarray, core: np.ndarray, region: _Region, face: FaceGeometry
) -> np.ndarray:
    """The new face as crisp as the photo's was, measured the way a reviewer sees it: over
    the inner face (brows and eyes, then nose and mouth, cheek to cheek), the whole composite.
    An unsharp mask or a light blur under the blend weight only: the smallest step that brings
    both bands within `_SHARP_BAND` of the photo, else the one that brings the farther of them
    closest."""
    mesh = face.landmarks
    x0, x1 = float(mesh[234, 0]), float(mesh[454, 0])
    y0, y1 = float(mesh[[105, 334], 1].min()), float(mesh[152, 1])
    w, h = x1 - x0, y1 - y0
    left, right = int(x0 + 0.2 * w), int(x1 - 0.2 * w)
    # Two bands a reviewer looks at, each on its own: brows and eyes, nose and mouth. The
    # identity's eyes may be crisper than its mouth (the lips are mostly the photo's), so one
    # figure over the whole inner face can read "in the band" with the eyes far over it.
    bands = [(int(y0), int(y0 + 0.45 * h)), (int(y0 + 0.45 * h), int(y1 - 0.1 * h))]
    if right - left < 4 or any(b - a < 4 for a, b in bands):
        return out
    befores = []
    for top, bottom in bands:
        crop = np.ascontiguousarray(target[top:bottom, left:right])
        befores.append(tone.laplacian_variance(crop, np.ones(crop.shape[:2], bool)))
    if min(befores) <= 0:
        return out
    weight = np.zeros(target.shape[:2], dtype=np.float32)
    region.crop(weight)[...] = core
    weight = weight[..., None]

    def ratios(image: np.ndarray) -> list[float]:
        found = []
        for (top, bottom), before in zip(bands, befores, strict=True):
            crop = np.ascontiguousarray(image[top:bottom, left:right])
            found.append(tone.laplacian_variance(crop, np.ones(crop.shape[:2], bool)) / before)
        return found

    def gap(found: list[float]) -> float:
        return max(abs(float(np.log(max(r, 1e-6)))) for r in found)

    low, high = _SHARP_BAND
    now = ratios(out)
    if all(low <= r <= high for r in now):
        return out
    best, best_gap = out, gap(now)
    for sharpen, steps in ((True, _SHARPEN_STEPS), (False, _SOFTEN_STEPS)):
        for step in steps:
            if sharpen:
                blurred = cv2.GaussianBlur(out, (0, 0), 1.0).astype(np.float32)
                changed = out + step * (out.astype(np.float32) - blurred)
            else:
                changed = cv2.GaussianBlur(out, (0, 0), step).astype(np.float32)
            candidate = np.clip(weight * changed + (1.0 - weight) * out, 0, 255).astype(np.uint8)
            found = ratios(candidate)
            if gap(found) < best_gap:
                best, best_gap = candidate, gap(found)
            if all(low <= r <= high for r in found):
                return best
    return best


#: Sharpness of the new face over the photo's that reads as one photo (the realism measure's
#: band is 0.8-1.25), and the unsharp-mask amounts and blur sigmas tried to get there.
_SHARP_BAND = (0.88, 1.15)
_SHARPEN_STEPS = (0.3, 0.6, 1.0, 1.5, 2.2, 3.0)
_SOFTEN_STEPS = (0.4, 0.55, 0.7, 0.85, 1.0, 1.2, 1.5)


def _new_face(
    warped: np.ndarray,
    roi_target: np.ndarray,
    masks: tone.FaceMasks,
    eye: float,
    params: SwapParams,
    enlarged: float,
) -> np.ndarray:
    """The warped identity in the target's colour, light, grain and sharpness, its edge
    cloned into the target's skin."""
    core = masks.core
    face = tone.match_colour(warped, roi_target, masks, eye, params.shading)
    face = _photo_light(face, roi_target, core, eye, params.light)
    face = _photo_lips(face, roi_target, masks.lips, eye)
    face = tone.match_grain(
        face, roi_target, (masks.target_features < 0.05) & (core > 0.5),
        (masks.features < 0.05) & (core > 0.5),
    )  # fmt: skip
    inner = cv2.erode((core > 0).astype(np.uint8), np.ones((3, 3), np.uint8),
                      iterations=max(1, int(eye * 0.2)))  # fmt: skip
    face = tone.match_sharpness(
        face, roi_target, (inner > 0) & (core > 0.9), np.maximum(masks.features, masks.nose),
        enlarged=enlarged,
    )  # fmt: skip
    face = _blend(face, roi_target, core, eye)
    if params.tone_keep > 0:
        gap = tone.tone_gap(warped, roi_target, core)
        face = tone.shift_tone(face, masks.tone_ramp, params.tone_keep * gap)
    return face


def _inward_ramp(region: np.ndarray, width: float) -> np.ndarray:
    """0 at the edge of `region`, rising smoothly to 1 at `width` pixels inside it."""
    inside = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
    ramp = np.clip(inside / max(width, 1.0), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)


def _paste(face: np.ndarray, roi_target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    blended = np.clip(a * face.astype(np.float32) + (1.0 - a) * roi_target, 0, 255)
    return np.round(blended).astype(np.uint8)


#: Face-mesh points around the nose: bridge, wings and tip.
_NOSE = [168, 122, 351, 114, 343, 129, 358, 98, 327, 2, 94, 19, 1, 4, 5, 195, 197, 6]


def _seam_error(blended: np.ndarray, roi_target: np.ndarray, roi_alpha: np.ndarray) -> float:
    """Mean colour difference (Lab) along the inner edge of the blend."""
    ring = (roi_alpha > 0.05) & (roi_alpha < 0.6)
    if not ring.any():
        return 0.0
    diff = tone.to_lab(blended) - tone.to_lab(roi_target)
    return float(np.linalg.norm(diff[ring], axis=1).mean())
