"""Face swap on a mesh: warp the identity's face onto the target's face geometry, match its colour
and lighting to the target, and blend it in with a feathered mask.

Only pixels under the (feathered) face mask can change; every other pixel of the target is copied
as it was, which is what keeps the garments exactly as shot.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from vestis.engines.local.faces import FACE_OVAL, FaceGeometry

_INNER = np.setdiff1d(np.arange(468), FACE_OVAL)


@dataclass(frozen=True)
class SwapParams:
    """What varies between variations of one swap."""

    tone_keep: float  # share of the identity's own skin tone kept (0: fully the target's)
    geometry: float  # 0: the target's face shape; 1: the identity's inner-face proportions
    feather: float  # feather width, in eye-corner distances
    shading: float  # how much of the target's low-frequency lighting is put on the new face


def swap_params(
    seed: int, variation: int, face_reference_mode: str, post_process: bool = False
) -> SwapParams:
    """Variation 0 is the canonical result; others draw their parameters from (seed, variation).

    Without post-processing the new face takes the target's skin tone entirely (anything else
    shows as a mask against the ears, forehead and neck); with it, the face keeps half of the
    identity's own tone and skin equalisation brings the rest of the body to it."""
    geometry = 0.5 if face_reference_mode == "match_reference" else 0.0
    tone = 0.5 if post_process else 0.0
    if variation == 0:
        return SwapParams(tone_keep=tone, geometry=geometry, feather=0.1, shading=0.8)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, variation])
    return SwapParams(
        tone_keep=float(tone * rng.uniform(0.7, 1.2) if post_process else rng.uniform(0.0, 0.08)),
        geometry=float(min(1.0, geometry + rng.uniform(0.15, 0.4))),
        feather=float(rng.uniform(0.07, 0.15)),
        shading=float(rng.uniform(0.35, 0.8)),
    )


@dataclass
class SwapResult:
    image: np.ndarray  # the whole target with the new face, uint8 RGB
    alpha: np.ndarray  # float32 blend weight per pixel of the whole image; 0 = untouched
    face_lab_before: np.ndarray  # mean Lab of the target's face skin
    face_lab_after: np.ndarray  # mean Lab of the new face skin
    fit_residual: float  # landmark misfit after similarity alignment, in eye distances
    seam_error: float  # mean colour difference (Lab) along the inner edge of the blend


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if matrix is None:
        matrix = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float64)
    return matrix


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _scaled_identity(
    identity: np.ndarray, face: FaceGeometry, target_eye: float
) -> tuple[np.ndarray, np.ndarray]:
    """Shrink a much larger identity face first, so the warp samples it without aliasing."""
    scale = target_eye / max(face.eye_distance, 1e-3)
    points = face.mesh.astype(np.float32)
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


def _tone_gap(warped: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Identity skin chroma minus target skin chroma (Lab a, b) inside the face."""
    return (_skin_mean_lab(warped, alpha > 0.9) - _skin_mean_lab(target, alpha > 0.9))[1:]


def _shift_tone(rgb: np.ndarray, alpha: np.ndarray, shift_ab: np.ndarray) -> np.ndarray:
    """Move the face's chroma by `shift_ab`, fully inside and fading with the blend weight."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    lab[..., 1:] += alpha[..., None] * shift_ab.astype(np.float32)
    out = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


class _Triangulation:
    """Delaunay triangles of the destination points, with the matching source points."""

    def __init__(self, dst: np.ndarray, src: np.ndarray) -> None:
        self.dst = dst
        self.src = src
        self.simplices = Delaunay(dst).simplices

    def affines(self) -> np.ndarray:
        """Per triangle, the 3x2 matrix M with [x, y, 1] @ M = source point (dst -> src)."""
        d = np.concatenate([self.dst[self.simplices], np.ones((len(self.simplices), 3, 1))], 2)
        s = self.src[self.simplices]
        # A sliver triangle is nearly singular: a tiny ridge keeps the solve stable.
        gram = np.einsum("kij,kil->kjl", d, d) + np.eye(3) * 1e-9
        return np.linalg.solve(gram, np.einsum("kij,kil->kjl", d, s))


def _signed_areas(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    a, b, c = points[simplices[:, 0]], points[simplices[:, 1]], points[simplices[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])


def _unfolded_triangulation(dst: np.ndarray, src: np.ndarray) -> _Triangulation:
    """Drop inner landmarks whose triangles fold over between the two faces (a nose seen from
    another angle), so the warp never maps a triangle inside out; their area is then covered by
    the larger triangles of their neighbours."""
    keep = np.ones(len(dst), dtype=bool)
    protected = np.zeros(len(dst), dtype=bool)
    protected[FACE_OVAL] = True
    dst64, src64 = dst.astype(np.float64), src.astype(np.float64)
    for _ in range(4):
        index = np.nonzero(keep)[0]
        tri = Delaunay(dst64[index])
        d_area = _signed_areas(dst64[index], tri.simplices)
        s_area = _signed_areas(src64[index], tri.simplices)
        folded = np.sign(d_area) != np.sign(s_area)
        if not folded.any():
            break
        culprits = np.unique(index[tri.simplices[folded]])
        culprits = culprits[~protected[culprits]]
        if len(culprits) == 0:
            break
        keep[culprits] = False
    index = np.nonzero(keep)[0]
    return _Triangulation(dst64[index], src64[index])


def _warp_maps(
    dst_points: np.ndarray,
    src_points: np.ndarray,
    roi: tuple[int, int, int, int],
    valid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise-affine maps (per Delaunay triangle of the destination mesh) for cv2.remap."""
    x0, y0, x1, y1 = roi
    tri = _unfolded_triangulation(dst_points, src_points)
    # Rasterise triangle numbers (scipy's point location computes every barycentric transform
    # in Python-level loops and is ten times slower on a 2-core machine).
    index = np.full(valid.shape, -1, dtype=np.int32)
    corners = np.round(tri.dst - (x0, y0)).astype(np.int32)
    for k, simplex in enumerate(tri.simplices):
        cv2.fillConvexPoly(index, corners[simplex], int(k))
    ys, xs = np.nonzero(valid & (index >= 0))
    affine = tri.affines()[index[ys, xs]]
    points = np.column_stack([xs + x0, ys + y0, np.ones(len(xs))]).astype(np.float64)
    source = np.einsum("ni,nij->nj", points, affine)
    map_x = np.full(valid.shape, -1.0, dtype=np.float32)
    map_y = np.full(valid.shape, -1.0, dtype=np.float32)
    map_x[ys, xs] = source[:, 0]
    map_y[ys, xs] = source[:, 1]
    covered = np.zeros(valid.shape, dtype=bool)
    covered[ys, xs] = True
    del x1, y1
    return map_x, map_y, covered


def _masked_blur(channel: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    weight = cv2.GaussianBlur(mask, (0, 0), sigma) + 1e-6
    return cv2.GaussianBlur(channel * mask, (0, 0), sigma) / weight


def _match_colour(
    warped: np.ndarray,
    target: np.ndarray,
    core: np.ndarray,
    params: SwapParams,
    sigma: float,
    features: np.ndarray | None = None,
) -> np.ndarray:
    """Bring the warped identity close to the target before cloning: Lab mean and spread of
    the skin, the target's low-frequency lighting, and no highlight brighter than the target's."""
    src = cv2.cvtColor(warped.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    ref = cv2.cvtColor(target.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    sel = core > 0.5
    if sel.sum() < 16:
        return warped
    src = _suppress_highlights(src, sel, sigma * 0.6)
    mask = core.astype(np.float32)
    out = np.empty_like(src)
    for c in range(3):
        s_mean, s_std = float(src[..., c][sel].mean()), float(src[..., c][sel].std()) + 1e-3
        r_mean, r_std = float(ref[..., c][sel].mean()), float(ref[..., c][sel].std()) + 1e-3
        ratio = float(np.clip(r_std / s_std, 0.7, 1.25))
        if c > 0:
            # Half the identity's colour variation: its eye sockets and shaved chin go grey or
            # green once moved to another skin tone, while lips and cheeks keep some colour.
            ratio *= 0.5
        out[..., c] = (src[..., c] - s_mean) * ratio + r_mean
    # The target's low-frequency lightness (its lighting) replaces the identity's, and so does
    # its broad colour variation, measured on skin only (not eyes, brows, lips): a colour cast
    # on one side of the identity's face (window light, a blue wall) must not come along.
    lighting = _masked_blur(ref[..., 0], mask, sigma) - _masked_blur(out[..., 0], mask, sigma)
    out[..., 0] += params.shading * lighting
    if features is not None:
        out[..., 0] = _soften_skin_detail(out[..., 0], ref[..., 0], mask, features, sigma * 0.3)
    ref_skin = _skin_pixels(ref[..., 0], sel).astype(np.float32)
    out_skin = _skin_pixels(out[..., 0], sel).astype(np.float32)
    for c in (1, 2):
        cast = _masked_blur(ref[..., c], ref_skin, sigma) - _masked_blur(
            out[..., c], out_skin, sigma
        )
        out[..., c] += 0.8 * (cast - float(cast[sel].mean()))
    out[..., 0] = _soft_ceiling(out[..., 0], float(np.percentile(ref[..., 0][sel], 99)))
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    rgb = cv2.cvtColor(out, cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


#: Face-mesh points of the features whose full detail makes the identity: eyes, brows, lips.
_FEATURES = [
    [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246],
    [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466],
    [70, 63, 105, 66, 107, 55, 65, 52, 53, 46],
    [300, 293, 334, 296, 336, 285, 295, 282, 283, 276],
    [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185],
]
#: Share of the identity's fine skin relief (wrinkles, folds, shadows of its own light) kept on
#: the skin; the rest is the target's own relief at the same place.
_SKIN_DETAIL_KEEP = 0.5


def _feature_weight(shape: tuple[int, int], points: np.ndarray, eye: float) -> np.ndarray:
    """1 on and just around the eyes, brows and lips (at `points`, the destination mesh in the
    region's pixels), fading to 0 over the skin between them."""
    mask = np.zeros(shape, dtype=np.uint8)
    for ring in _FEATURES:
        hull = cv2.convexHull(np.round(points[ring]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
    radius = max(1, int(eye * 0.06))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    mask = cv2.dilate(mask, disc)
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(0.8, eye * 0.04))


def _soften_skin_detail(
    lightness: np.ndarray, ref: np.ndarray, mask: np.ndarray, features: np.ndarray, sigma: float
) -> np.ndarray:
    """An older or side-lit identity's wrinkles and folds look harsh on a smooth catalogue
    face: on the skin, keep part of the identity's fine relief and take the rest from the
    target's own relief (its nose and cheek shading), leaving eyes, brows and lips intact."""
    own = lightness - _masked_blur(lightness, mask, sigma)
    theirs = ref - _masked_blur(ref, mask, sigma)
    keep = features + (1.0 - features) * _SKIN_DETAIL_KEEP
    return lightness - (1.0 - keep) * (own - theirs)


def _skin_pixels(lightness: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Face pixels of middle lightness: skin, without eyes, brows, nostrils and highlights."""
    lo, hi = np.percentile(lightness[sel], [25, 97])
    return sel & (lightness > lo) & (lightness < hi)


def _hair_over_face(target: np.ndarray, hull: np.ndarray, brow_y: float, eye: float) -> np.ndarray:
    """Hair (a fringe, strands) lying over the face: much darker than the face's own skin. The
    swap leaves it in place rather than painting skin over it (or smearing it into the face)."""
    lab = cv2.cvtColor(target.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    lightness = lab[..., 0]
    rows = np.arange(hull.shape[0])[:, None]
    lower = (hull > 0) & (rows > brow_y + eye * 0.4)
    if lower.sum() < 16:
        return np.zeros(hull.shape, dtype=bool)
    skin_l = float(np.median(lightness[lower]))
    # Above the brows anything dark is hair; lower down only near the face's edge (strands at
    # the temples and cheeks), so that eyes and brows are never taken for hair.
    edge = cv2.distanceTransform(hull.astype(np.uint8), cv2.DIST_L2, 3) < eye * 0.15
    zone = (hull > 0) & ((rows < brow_y) | edge)
    hair = (zone & (lightness < skin_l - 22)).astype(np.uint8)
    size = max(3, int(eye * 0.06) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    hair = cv2.morphologyEx(hair, cv2.MORPH_OPEN, kernel)
    return cv2.dilate(hair, kernel, iterations=2) > 0


#: Inner-lip contour of the face mesh (upper lip left to right, then lower lip back).
_INNER_LIPS = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178,
               88, 95]  # fmt: skip


def _keep_closed_mouth(
    alpha: np.ndarray, target: FaceGeometry, identity: FaceGeometry, dst: np.ndarray, eye: float
) -> None:
    """An open, smiling identity mouth squeezed into a closed target mouth leaves a thin line
    of teeth: there, keep the target's own closed lips (alpha is lowered in place)."""
    target_gap = float(np.linalg.norm(target.landmarks[13] - target.landmarks[14])) / eye
    identity_gap = float(np.linalg.norm(identity.landmarks[13] - identity.landmarks[14])) / max(
        identity.eye_distance, 1e-3
    )
    if not (identity_gap > 0.06 and target_gap < 0.06):
        return
    mouth = np.zeros(alpha.shape, dtype=np.uint8)
    cv2.fillPoly(mouth, [np.round(dst[_INNER_LIPS]).astype(np.int32)], 255)
    cv2.polylines(mouth, [np.round(dst[_INNER_LIPS]).astype(np.int32)], True, 255,
                  max(2, int(eye * 0.05)))  # fmt: skip
    soft = cv2.GaussianBlur(mouth.astype(np.float32) / 255.0, (0, 0), max(1.0, eye * 0.03))
    alpha *= 1.0 - np.clip(soft * 1.5, 0.0, 1.0)
    alpha[alpha < 1.0 / 255.0] = 0.0


def _open_mouth_hole(
    shape: tuple[int, int],
    target: FaceGeometry,
    identity: FaceGeometry,
    roi_origin: tuple[int, int],
    eye: float,
) -> np.ndarray:
    """Weight (0..1) of the target's own mouth opening to keep: an open target mouth (a smile
    showing teeth) over a closed identity mouth would stretch the identity's thin line between
    its lips into a dark hole. There the target's teeth and inner mouth stay, framed by the
    identity's lips (which the mesh warp already puts on the target's lip shape)."""
    target_gap = float(np.linalg.norm(target.landmarks[13] - target.landmarks[14])) / eye
    identity_gap = float(np.linalg.norm(identity.landmarks[13] - identity.landmarks[14])) / max(
        identity.eye_distance, 1e-3
    )
    hole = np.zeros(shape, dtype=np.float32)
    if not (target_gap > 0.05 and identity_gap < 0.6 * target_gap):
        return hole
    lips = np.round(target.landmarks[_INNER_LIPS] - roi_origin).astype(np.int32)
    mouth = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mouth, [lips], 255)
    # A slight feather only: the target's own lip edge lies just inside the mesh's inner line.
    soft = cv2.GaussianBlur(mouth.astype(np.float32) / 255.0, (0, 0), max(0.7, eye * 0.015))
    return np.clip(soft * 1.3, 0.0, 1.0)


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


def _suppress_highlights(lab: np.ndarray, sel: np.ndarray, sigma: float) -> np.ndarray:
    """Limit how far the identity's skin departs from its local average: bright peaks (specular
    highlights on nose and forehead) and off-colour specks (background or hair caught at the
    face's edge) are the identity photo's lighting and framing, not its skin, and turn into
    grey or blue blotches once the colour is matched to another face. Dark features (eyes,
    brows, lips) keep their full contrast."""
    mask = sel.astype(np.float32)
    out = lab.copy()
    smooth_l = _masked_blur(lab[..., 0], mask, sigma)
    out[..., 0] = smooth_l + _soft_ceiling(lab[..., 0] - smooth_l, 5.0, 4.0)
    for c in (1, 2):
        smooth = _masked_blur(lab[..., c], mask, sigma)
        out[..., c] = smooth + np.clip(lab[..., c] - smooth, -4.0, 4.0)
    return out


def _soft_ceiling(lightness: np.ndarray, ceiling: float, width: float = 4.0) -> np.ndarray:
    """Compress values above `ceiling - width` smoothly so that none exceed `ceiling`."""
    knee = ceiling - width
    over = lightness - knee
    return np.where(over > 0, knee + width * np.tanh(over / width), lightness)


def _skin_mean_lab(rgb: np.ndarray, sel: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[sel]
    if len(lab) == 0:
        return np.zeros(3, dtype=np.float32)
    lo, hi = np.percentile(lab[:, 0], [15, 90])
    keep = (lab[:, 0] >= lo) & (lab[:, 0] <= hi)  # leaves out eyes, brows, nostrils, highlights
    return lab[keep].mean(axis=0) if keep.any() else lab.mean(axis=0)


def swap_face(
    target: np.ndarray,
    target_face: FaceGeometry,
    identity: np.ndarray,
    identity_face: FaceGeometry,
    params: SwapParams,
) -> SwapResult:
    """Put `identity_face` onto `target_face`; returns the new image and the blend mask."""
    h, w = target.shape[:2]
    eye = max(target_face.eye_distance, 2.0)
    identity, id_points = _scaled_identity(identity, identity_face, eye)
    dst = target_face.mesh.astype(np.float64).copy()
    aligned = _apply(_similarity(id_points, target_face.mesh.astype(np.float32)), id_points)
    fit_residual = float(np.sqrt(((aligned - dst) ** 2).sum(axis=1).mean()) / eye)
    # Geometry: move the inner face points toward the identity's proportions; keep the outline.
    dst[_INNER] += params.geometry * (aligned[_INNER] - dst[_INNER])

    oval = target_face.oval
    margin = int(eye * 0.2) + 2
    x0 = max(int(oval[:, 0].min()) - margin, 0)
    y0 = max(int(oval[:, 1].min()) - margin, 0)
    x1 = min(int(np.ceil(oval[:, 0].max())) + margin, w)
    y1 = min(int(np.ceil(oval[:, 1].max())) + margin, h)
    alpha = np.zeros((h, w), dtype=np.float32)
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise ValueError("face region too small")
    roi_target = target[y0:y1, x0:x1]
    roi_oval = oval - np.array([x0, y0])
    hull = np.zeros(roi_target.shape[:2], dtype=np.uint8)
    cv2.fillConvexPoly(
        hull, np.round(cv2.convexHull(roi_oval.astype(np.float32))).astype(np.int32), 1
    )
    brow_y = float(target_face.landmarks[[105, 334], 1].min()) - y0
    hair = _hair_over_face(roi_target, hull, brow_y, eye)
    roi_alpha = _alpha_mask(hull & ~hair, params.feather * eye)
    _keep_closed_mouth(roi_alpha, target_face, identity_face, dst - (x0, y0), eye)
    map_x, map_y, covered = _warp_maps(dst, id_points, (x0, y0, x1, y1), roi_alpha > 0)
    roi_alpha[~covered] = 0.0
    warped = cv2.remap(identity, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    features = _feature_weight(roi_alpha.shape, dst - (x0, y0), eye)
    matched = _match_colour(warped, roi_target, roi_alpha, params, eye * 0.35, features)
    cloned = _poisson_clone(matched, roi_target, roi_alpha > 0.02)
    # Poisson cloning fixes the edge but drifts inside (a dark strand or brow on the edge
    # greys a whole cheek): take it at the edge only, the colour-matched face inside.
    inside = cv2.distanceTransform((roi_alpha > 0.02).astype(np.uint8), cv2.DIST_L2, 3)
    w_inner = np.clip(inside / (eye * 0.4), 0.0, 1.0)[..., None]
    cloned = np.clip(w_inner * matched + (1.0 - w_inner) * cloned + 0.5, 0, 255).astype(np.uint8)
    if params.tone_keep > 0:
        cloned = _shift_tone(
            cloned, roi_alpha, params.tone_keep * _tone_gap(warped, roi_target, roi_alpha)
        )
    roi_alpha *= 1.0 - _open_mouth_hole(roi_alpha.shape, target_face, identity_face, (x0, y0), eye)
    roi_alpha[roi_alpha < 1.0 / 255.0] = 0.0
    a = roi_alpha[..., None]
    blended = np.clip(a * cloned.astype(np.float32) + (1.0 - a) * roi_target, 0, 255)
    blended = np.round(blended).astype(np.uint8)
    out = target.copy()
    changed = roi_alpha > 0
    out[y0:y1, x0:x1][changed] = blended[changed]
    alpha[y0:y1, x0:x1] = roi_alpha

    core = roi_alpha > 0.9
    ring = (roi_alpha > 0.05) & (roi_alpha < 0.6)
    seam_error = 0.0
    if ring.any():
        lab_out = cv2.cvtColor(blended.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        lab_in = cv2.cvtColor(roi_target.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        seam_error = float(np.linalg.norm((lab_out - lab_in)[ring], axis=1).mean())
    return SwapResult(
        image=out,
        alpha=alpha,
        face_lab_before=_skin_mean_lab(roi_target, core),
        face_lab_after=_skin_mean_lab(blended, core),
        fit_residual=fit_residual,
        seam_error=seam_error,
    )
