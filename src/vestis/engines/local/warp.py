"""Geometry of the swap: where the identity's face goes on the target, and the piecewise-affine
warp that puts it there.

The identity's inner face (eyes, brows, nose, mouth and the skin between them) keeps its own
proportions: its 3D mesh is moved onto the target's by one similarity transform (rotation, scale,
shift in 3D), so it takes the target's head pose, and projected. Only towards the face outline
do the points bend to meet the target's outline, which stays where it is (hair, ears, jaw line
and background around it are the target's).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay
from skimage.transform import SimilarityTransform

from vestis.engines.local.faces import FACE_OVAL, FaceGeometry
from vestis.quality.face_traits import INNER_LIPS, LEFT_EYE, OUTER_LIPS, RIGHT_EYE

#: Mesh points that expression barely moves (eye corners, nose, forehead, the top of the upper
#: lip): the similarity is fitted on these, so a smile or an open mouth does not tilt or
#: shrink the identity's face.
_ANCHORS = [33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 9, 151, 98, 327, 2, 0, 130, 359]


def align_identity(identity: FaceGeometry, target: FaceGeometry) -> np.ndarray:
    """The identity's 468 mesh points moved by the 3D similarity that best puts its anchors on
    the target's, projected to the target image: the identity's proportions, the target's pose."""
    src, dst = identity.points3d[:468], target.points3d[:468]
    transform = SimilarityTransform.from_estimate(src[_ANCHORS], dst[_ANCHORS])
    if not transform:
        transform = SimilarityTransform.from_estimate(src[_ANCHORS, :2], dst[_ANCHORS, :2])
        return np.asarray(transform(src[:, :2]), dtype=np.float64)
    return np.asarray(transform(src), dtype=np.float64)[:, :2]


def destination(target: FaceGeometry, aligned: np.ndarray, strength: float) -> np.ndarray:
    """Where each identity mesh point lands: its aligned place deep inside the face, bending to
    the target's own point at the outline (over `_RAMP` eye distances)."""
    eye = max(target.eye_distance, 2.0)
    mesh = target.mesh.astype(np.float64)
    oval = target.oval.astype(np.float32).reshape(-1, 1, 2)
    inside = np.array([cv2.pointPolygonTest(oval, (float(x), float(y)), True) for x, y in mesh])
    ramp = np.clip(inside / (_RAMP * eye), 0.0, 1.0)
    weight = strength * ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep
    weight[FACE_OVAL] = 0.0
    # The photo's expression stays: eyelids and lips keep the photo's shape and place, so the
    # new eyes open as wide as the photo's and look where they looked, and the identity's lips
    # close where the photo's mouth is closed (the brows may move: they carry who someone is
    # more than how they look).
    weight[EXPRESSION] = 0.0
    return mesh + weight[:, None] * (aligned - mesh)


#: Mesh points that carry the photo's expression: both eye openings and both lip contours.
EXPRESSION = sorted(set(RIGHT_EYE + LEFT_EYE + INNER_LIPS + OUTER_LIPS))


#: Distance from the outline (in eye distances) over which the identity's geometry fades in.
_RAMP = 0.15


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


def warp_maps(
    dst_points: np.ndarray, src_points: np.ndarray, origin: tuple[int, int], valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise-affine maps (per Delaunay triangle of the destination mesh) for cv2.remap,
    over the region of `valid` (whose top-left pixel is `origin` in the image)."""
    x0, y0 = origin
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
    return map_x, map_y, covered
