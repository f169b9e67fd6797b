"""Finding faces and bodies: face detection, then a face mesh on a crop around the face.

The face mesh's own detector is tuned for selfies and misses the small faces of full-body
catalogue shots, so the face is found first with the full-range detector (or, failing that, from
the head points of the body pose), and the mesh runs on an upscaled crop around it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from vestis.engines.local import models
from vestis.quality import faces as quality_faces
from vestis.quality.mesh import mesh_in_crop, mesh_whole

#: Face-mesh indices of the face outline, in order around the face (mediapipe FACEMESH_FACE_OVAL).
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
             109]  # fmt: skip
LEFT_EYE_CORNER, RIGHT_EYE_CORNER = 33, 263
#: Pose landmark indices (mediapipe Pose).
POSE_NOSE, POSE_L_EAR, POSE_R_EAR = 0, 7, 8


@dataclass(frozen=True)
class FaceGeometry:
    """One face: 478 mesh landmarks in image pixels, its box and the detector's confidence."""

    landmarks: np.ndarray  # (478, 2) float32, x and y in pixels
    box: tuple[int, int, int, int]  # left, top, right, bottom
    confidence: float
    #: (478,) float32 depth of each landmark in pixels (smaller is nearer the camera), on the
    #: same scale as x and y: what lets the swap turn one face into another's pose.
    depth: np.ndarray | None = None

    @property
    def mesh(self) -> np.ndarray:
        """The 468 face-surface points (without the iris points)."""
        return self.landmarks[:468]

    @property
    def oval(self) -> np.ndarray:
        return self.landmarks[FACE_OVAL]

    @property
    def points3d(self) -> np.ndarray:
        """(478, 3): x, y and depth in pixels (depth 0 where the mesh gave none)."""
        depth = self.depth if self.depth is not None else np.zeros(len(self.landmarks))
        return np.column_stack([self.landmarks, depth]).astype(np.float64)

    @property
    def eye_distance(self) -> float:
        return float(
            np.linalg.norm(self.landmarks[LEFT_EYE_CORNER] - self.landmarks[RIGHT_EYE_CORNER])
        )


def content_key(rgb: np.ndarray) -> str:
    return hashlib.blake2b(rgb.tobytes(), digest_size=16).hexdigest() + str(rgb.shape)


class ContentCache:
    """A small thread-safe LRU: the same identity image is analysed once per job, not per output."""

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[str, object] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str) -> object:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return _MISSING

    def put(self, key: str, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_MISSING = object()
_face_cache = ContentCache()
_pose_cache = ContentCache()


def _detect_box(rgb: np.ndarray) -> tuple[tuple[int, int, int, int], float] | None:
    """Largest face box by the full-range detector, in pixels, with its score."""
    detections = models.face_detector().process(rgb).detections
    return quality_faces.largest_detection(detections, rgb.shape[1], rgb.shape[0])


def _head_box_from_pose(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    body = body_landmarks(rgb)
    if body is None or body[POSE_NOSE, 2] < 0.5:
        return None
    ears = body[[POSE_L_EAR, POSE_R_EAR], :2]
    nose = body[POSE_NOSE, :2]
    half = max(float(np.linalg.norm(ears[0] - ears[1])) * 0.6, 8.0)
    return (int(nose[0] - half), int(nose[1] - half), int(nose[0] + half), int(nose[1] + half))


def find_face(rgb: np.ndarray) -> FaceGeometry | None:
    """The largest face in an RGB uint8 image, or None. Cached by image content."""
    key = content_key(rgb)
    cached = _face_cache.get(key)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    face = _find_face_uncached(np.ascontiguousarray(rgb))
    _face_cache.put(key, face)
    return face


def _detect_in_tiles(rgb: np.ndarray) -> tuple[tuple[int, int, int, int], float] | None:
    """The detector on overlapping square tiles: it sees the whole image at 192 x 192, where
    the face of a full-length shot or a small photo is a few pixels wide. Largest face found."""
    h, w = rgb.shape[:2]
    return quality_faces.search_tiles(rgb, _detect_box, max(min(h, w) // 3, 96))


def _find_face_uncached(rgb: np.ndarray) -> FaceGeometry | None:
    detected = _detect_box(rgb)
    candidates: list[tuple[tuple[int, int, int, int], float]] = []
    if detected is not None:
        candidates.append(detected)
    head = _head_box_from_pose(rgb) if detected is None else None
    if detected is None and head is None:
        detected = _detect_in_tiles(rgb)
        if detected is not None:
            candidates.append(detected)
    if head is not None:
        candidates.append((head, 0.5))
    for box, confidence in candidates:
        points = mesh_in_crop(rgb, box)
        if points is not None:
            return _geometry(points, confidence)
    if detected is None and head is None:
        # Last resort: a close-up the detectors framed oddly; the mesh has its own detector.
        points = mesh_whole(rgb)
        if points is not None:
            return _geometry(points, 0.5)
    return None


def _geometry(points: np.ndarray, confidence: float) -> FaceGeometry:
    """`points`: (478, 3) x, y and depth in pixels."""
    mesh = points[:468, :2]
    box = (
        int(np.floor(mesh[:, 0].min())),
        int(np.floor(mesh[:, 1].min())),
        int(np.ceil(mesh[:, 0].max())),
        int(np.ceil(mesh[:, 1].max())),
    )
    return FaceGeometry(
        landmarks=np.ascontiguousarray(points[:, :2]),
        box=box,
        confidence=confidence,
        depth=np.ascontiguousarray(points[:, 2]),
    )


def body_landmarks(rgb: np.ndarray) -> np.ndarray | None:
    """33 pose landmarks as (x px, y px, visibility), or None when no body is found."""
    key = content_key(rgb)
    cached = _pose_cache.get(key)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    h, w = rgb.shape[:2]
    result = models.pose().process(np.ascontiguousarray(rgb))
    body = None
    if result.pose_landmarks:
        body = np.array(
            [(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks.landmark],
            dtype=np.float32,
        )
    _pose_cache.put(key, body)
    return body


#: Mesh points of the eyes, brows, nose and lips: a face missing any of them cannot be swapped.
_FEATURE_POINTS = [33, 133, 362, 263, 70, 105, 107, 336, 334, 300, 1, 2, 98, 327, 61, 291, 0, 17]


@dataclass(frozen=True)
class Framing:
    """How much of a face lies outside its photo, and across which edges."""

    outside_share: float  # share of the face outline's area outside the frame
    features_outside: bool  # an eye, brow, the nose or the lips lie (partly) outside
    edges: tuple[str, ...]  # "top", "bottom", "left", "right": the edges the face crosses


def framing(face: FaceGeometry, size: tuple[int, int]) -> Framing:
    """Where `face` meets the frame of an image of `size` (width, height). The mesh is
    estimated beyond the picture for a face the frame cuts, which is what tells it."""
    w, h = size
    hull = cv2.convexHull(face.oval.astype(np.float32))
    frame = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    area = float(cv2.contourArea(hull))
    inside, _ = cv2.intersectConvexConvex(hull, frame)
    share = 1.0 - float(inside) / area if area > 0 else 1.0
    x, y = face.oval[:, 0], face.oval[:, 1]
    edges = tuple(
        name
        for name, crossed in (
            ("top", y.min() < 0),
            ("bottom", y.max() > h),
            ("left", x.min() < 0),
            ("right", x.max() > w),
        )
        if crossed
    )
    points = face.landmarks[_FEATURE_POINTS]
    features_outside = bool(
        (points[:, 0] < 0).any()
        or (points[:, 1] < 0).any()
        or (points[:, 0] > w - 1).any()
        or (points[:, 1] > h - 1).any()
    )
    return Framing(max(share, 0.0), features_outside, edges)
