"""Face identity: a 128-number signature per face (dlib's ResNet embedding), and distances.

Two photos of the same person are less than `SAME_PERSON` apart (dlib's own threshold for this
model: 99.38 % on the LFW benchmark); different people are further apart.

How a face is found: mediapipe's full-range detector locates it in the whole image; a square crop
around it is scaled so that the face is about `_FACE_PX` pixels wide (small faces of full-length
shots are upscaled, large portraits downscaled, so the time does not grow with the image);
dlib's HOG detector then boxes the face in that crop, as the shape predictor expects (the
locator's own box is the fallback for faces HOG misses, e.g. turned sideways); dlib's 5-point
shape predictor aligns it and the ResNet encodes the aligned 150 x 150 chip.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from vestis.quality import models

#: Distance below which two faces are taken to be the same person.
SAME_PERSON = 0.6
#: Face width the crop is scaled to before dlib sees it.
_FACE_PX = 160
#: Crop side around a located face, in face sizes.
_CROP_FACTOR = 2.2

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels


@dataclass(frozen=True)
class FaceSignature:
    """One face: its embedding, its dlib box and its 5 landmarks, in image pixels."""

    embedding: np.ndarray  # (128,) float64
    box: Box
    landmarks: np.ndarray  # (5, 2): eye corners (2 per eye) and the base of the nose
    confidence: float  # the locator's score
    located: Box  # the locator's box, from which the crop was taken
    aligned_on: str  # "hog" (dlib's own box) or "locator" (mediapipe's box, HOG missed it)

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


def face_distance(a: FaceSignature, b: FaceSignature) -> float:
    """Euclidean distance between two faces' embeddings (0 = the same photo)."""
    return float(np.linalg.norm(a.embedding - b.embedding))


def rgb_array(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


class _Cache:
    """A small thread-safe LRU keyed by image content: the identity and the target are measured
    once per job, not once per output."""

    def __init__(self, size: int = 32) -> None:
        self._items: OrderedDict[str, FaceSignature | None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, FaceSignature | None]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return True, self._items[key]
        return False, None

    def put(self, key: str, value: FaceSignature | None) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_cache = _Cache()


def face_signature(
    image: Image.Image | np.ndarray, near: FaceSignature | None = None
) -> FaceSignature | None:
    """The largest face of `image`, or None. With `near` (a face of another photo of the same
    framing, e.g. the target of a model swap), the face at that place is encoded from the very
    same crop first, so that an unchanged face gives the same embedding (distance 0).

    Cached by content: measuring the same identity image again costs a hash."""
    rgb = rgb_array(image)
    key = hashlib.blake2b(rgb.tobytes(), digest_size=16).hexdigest()
    key += f"{rgb.shape}{near.located if near is not None else ''}"
    found, cached = _cache.get(key)
    if found:
        return cached
    signature = None
    for box, confidence, seen in _candidates(rgb, near):
        signature = _encode(rgb, box, confidence, seen)
        if signature is not None:
            break
    _cache.put(key, signature)
    return signature


def _candidates(rgb: np.ndarray, near: FaceSignature | None) -> list[tuple[Box, float, bool]]:
    """Face boxes to try, best first, and whether a detector saw a face there already: `near`'s
    box (not yet: the face may be gone), then the locator's largest face."""
    candidates: list[tuple[Box, float, bool]] = []
    if near is not None:
        candidates.append((near.located, near.confidence, False))
    located = _locate(rgb) or _locate_in_tiles(rgb)
    if located is not None:
        candidates.append((*located, True))
    return candidates


def _locate_in_tiles(rgb: np.ndarray) -> tuple[Box, float] | None:
    """The locator on overlapping square tiles, for a face too small to be seen in the whole
    image (the locator works at 192 x 192: a 45-pixel face in a 1200-pixel frame is 7 pixels
    there). The largest face any tile finds, in image pixels."""
    h, w = rgb.shape[:2]
    return search_tiles(rgb, _locate, max(min(h, w) // 2, 128))


def search_tiles(
    rgb: np.ndarray, locate: Callable[[np.ndarray], tuple[Box, float] | None], side: int
) -> tuple[Box, float] | None:
    """`locate` on overlapping square tiles of `side` pixels (half a tile apart): the largest
    face any tile finds, in image pixels; None when one tile would be the whole image. For
    face detectors that see a whole image at a small fixed size (the engine's too)."""
    h, w = rgb.shape[:2]
    if side >= max(h, w):
        return None
    step = side // 2
    best: tuple[Box, float] | None = None
    for y in range(0, max(h - side, 0) + step, step):
        for x in range(0, max(w - side, 0) + step, step):
            y0, x0 = min(y, max(h - side, 0)), min(x, max(w - side, 0))
            found = locate(np.ascontiguousarray(rgb[y0 : y0 + side, x0 : x0 + side]))
            if found is None:
                continue
            (left, top, right, bottom), score = found
            box = (left + x0, top + y0, right + x0, bottom + y0)
            if best is None or _area(box) > _area(best[0]):
                best = (box, score)
    return best


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _locate(rgb: np.ndarray) -> tuple[Box, float] | None:
    """mediapipe's largest face box in pixels, with its score."""
    detections = models.face_locator().process(rgb).detections
    return largest_detection(detections, rgb.shape[1], rgb.shape[0])


def largest_detection(detections: Any, width: int, height: int) -> tuple[Box, float] | None:
    """The largest of mediapipe's face detections (relative boxes) as a pixel box of an image
    `width` x `height`, with its score; None if there is none with an area."""
    best: tuple[Box, float] | None = None
    best_area = 0.0
    for detection in detections or []:
        rel = detection.location_data.relative_bounding_box
        box = (
            int(rel.xmin * width),
            int(rel.ymin * height),
            int((rel.xmin + rel.width) * width),
            int((rel.ymin + rel.height) * height),
        )
        area = rel.width * rel.height
        if area > best_area and box[2] > box[0] and box[3] > box[1]:
            best, best_area = (box, float(detection.score[0])), area
    return best


def _square(box: Box, factor: float) -> tuple[float, float, float]:
    """Centre x, centre y and side of a square `factor` times the box's larger side."""
    side = max(box[2] - box[0], box[3] - box[1]) * factor
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, side


def _crop(
    rgb: np.ndarray, square: tuple[float, float, float], side_px: int
) -> tuple[np.ndarray, tuple[int, int], float]:
    """A square crop resized to `side_px`; edge pixels pad a face at the border. Returns the crop,
    its top-left corner in the image and its scale (crop pixels per image pixel)."""
    cx, cy, side = square
    side_i = max(int(round(side)), 8)
    x0, y0 = int(round(cx - side_i / 2)), int(round(cy - side_i / 2))
    h, w = rgb.shape[:2]
    pad = side_i
    padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[y0 + pad : y0 + pad + side_i, x0 + pad : x0 + pad + side_i]
    del h, w
    interp = cv2.INTER_CUBIC if side_i < side_px else cv2.INTER_AREA
    scaled = cv2.resize(crop, (side_px, side_px), interpolation=interp)
    return np.ascontiguousarray(scaled), (x0, y0), side_px / side_i


def _unmap(box: tuple[float, float, float, float], origin: tuple[int, int], scale: float) -> Box:
    return (
        int(round(box[0] / scale + origin[0])),
        int(round(box[1] / scale + origin[1])),
        int(round(box[2] / scale + origin[0])),
        int(round(box[3] / scale + origin[1])),
    )


def _encode(rgb: np.ndarray, box: Box, confidence: float, seen: bool) -> FaceSignature | None:
    """Encode the face in `box`; None when `seen` is False and no detector finds a face there."""
    import dlib

    side_px = int(_FACE_PX * _CROP_FACTOR)
    crop, origin, scale = _crop(rgb, _square(box, _CROP_FACTOR), side_px)
    rect, aligned_on = _hog_box(crop), "hog"
    if rect is None and not seen and not _centred_face(crop):
        return None
    if rect is None:
        # The locator's box is tighter than HOG's (forehead to chin): widen it a little.
        half = _FACE_PX * 1.1 / 2
        c = side_px / 2
        rect = dlib.rectangle(int(c - half), int(c - half), int(c + half), int(c + half))
        aligned_on = "locator"
    shape = models.shape_predictor()(crop, rect)
    embedding = np.array(models.face_encoder().compute_face_descriptor(crop, shape))
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    points = points / scale + np.array(origin, dtype=np.float64)
    return FaceSignature(
        embedding=embedding,
        box=_unmap((rect.left(), rect.top(), rect.right(), rect.bottom()), origin, scale),
        landmarks=points,
        confidence=confidence,
        located=box,
        aligned_on=aligned_on,
    )


def _hog_box(crop: np.ndarray) -> object | None:
    """dlib's HOG box of the face nearest the crop's centre, if HOG finds one there."""
    side = crop.shape[0]
    centre = np.array([side / 2, side / 2])
    best, best_d = None, side / 4  # a face further from the centre is another face
    for rect in models.hog_detector()(crop, 0):
        d = float(np.hypot((rect.left() + rect.right()) / 2 - centre[0],
                           (rect.top() + rect.bottom()) / 2 - centre[1]))  # fmt: skip
        if d < best_d:
            best, best_d = rect, d
    return best


def _centred_face(crop: np.ndarray) -> bool:
    """Whether the locator finds a face about the centre of a crop."""
    located = _locate(crop)
    if located is None:
        return False
    box = located[0]
    side = crop.shape[0]
    dx = (box[0] + box[2]) / 2 - side / 2
    dy = (box[1] + box[3]) / 2 - side / 2
    return bool(np.hypot(dx, dy) < side / 4)
