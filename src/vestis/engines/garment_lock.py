"""Garment lock: a model-swap output from an engine that repaints the whole photo (a generative
service), composited so that only what a swap may change is changed.

The region a swap may change is the face, the hair around it, the neck, and the visible skin
(arms, hands, legs), found with the local engine's models (face mesh, selfie segmentation, pose
and its skin colour model) on the input and on the output. Outside that region every pixel is
the input's, bit for bit; inside it the output is blended in with an edge feathered *inside*
the region, so nothing outside it moves. An output that is not aligned with the input (another
size, shifted, slightly rotated) is aligned first (ORB features and a RANSAC similarity); one
that cannot be aligned is delivered as the engine made it, with a warning.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

#: Share of the width/height the output may differ in aspect ratio and still be resized.
_ASPECT_TOLERANCE = 0.02
#: Correlation (grey levels, outside the region) an aligned output must reach with the input.
_MIN_CORRELATION = 0.6
_MIN_INLIERS = 12
#: Correlation (grey, half size) a shifted output must reach with the photo for the shift alone
#: to be taken as the alignment; below it, features are matched.
_MIN_SHIFT_CORRELATION = 0.97


@dataclass
class LockResult:
    image: Image.Image
    #: Share of the pixels that are exactly the input's; None when the output was not locked.
    locked_share: float | None
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def _rgb(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


# --- alignment ----------------------------------------------------------------------------------


def _similarity(moving: np.ndarray, fixed: np.ndarray) -> tuple[np.ndarray | None, int]:
    """The 2x3 similarity taking `moving` onto `fixed` (grey images), and its inlier count."""
    orb = cv2.ORB_create(nfeatures=1500)
    kp_m, des_m = orb.detectAndCompute(moving, None)
    kp_f, des_f = orb.detectAndCompute(fixed, None)
    if des_m is None or des_f is None or len(kp_m) < _MIN_INLIERS or len(kp_f) < _MIN_INLIERS:
        return None, 0
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(des_m, des_f)
    if len(matches) < _MIN_INLIERS:
        return None, 0
    src = np.float32([kp_m[m.queryIdx].pt for m in matches])
    dst = np.float32([kp_f[m.trainIdx].pt for m in matches])
    matrix, inliers = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=2.0
    )
    count = int(inliers.sum()) if inliers is not None else 0
    return (matrix if count >= _MIN_INLIERS else None), count


def _is_identity(matrix: np.ndarray) -> bool:
    """Closer to no motion than half a pixel anywhere on a 1000-pixel image."""
    linear = np.abs(matrix[:, :2] - np.eye(2)).max()
    return bool(linear < 5e-4 and np.abs(matrix[:, 2]).max() < 0.5)


def _translation(moving: np.ndarray, fixed: np.ndarray) -> tuple[np.ndarray, float]:
    """The shift taking `moving` onto `fixed` (grey, same size) by phase correlation, and the
    correlation peak's strength."""
    window = cv2.createHanningWindow(fixed.shape[::-1], cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(np.float32(moving), np.float32(fixed), window)
    return np.float64([[1, 0, dx], [0, 1, dy]]), float(response)


def _whole_correlation(a: np.ndarray, b: np.ndarray) -> float:
    small = (max(1, a.shape[1] // 2), max(1, a.shape[0] // 2))
    x = cv2.resize(a, small, interpolation=cv2.INTER_AREA).astype(np.float64).ravel()
    y = cv2.resize(b, small, interpolation=cv2.INTER_AREA).astype(np.float64).ravel()
    if x.std() < 1e-6 or y.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def align(output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray | None, dict[str, Any]]:
    """`output` in `target`'s frame, or None when it cannot be aligned; what was done.

    A repaint of the same framing (perhaps at another size and a few pixels off) is aligned by
    phase correlation, cheaply; anything else (a rotation, another crop) by ORB features and a
    RANSAC similarity."""
    th, tw = target.shape[:2]
    oh, ow = output.shape[:2]
    facts: dict[str, Any] = {"output_size": [ow, oh]}
    moved = output
    if (ow, oh) != (tw, th) and abs((ow / oh) / (tw / th) - 1.0) <= _ASPECT_TOLERANCE:
        moved = cv2.resize(output, (tw, th), interpolation=cv2.INTER_AREA)
        facts["resized"] = True
    grey_t = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY)
    if moved.shape[:2] == (th, tw):
        grey_m = cv2.cvtColor(moved, cv2.COLOR_RGB2GRAY)
        matrix, response = _translation(grey_m, grey_t)
        shifted = moved
        if np.abs(matrix[:, 2]).max() >= 0.5:
            shifted = cv2.warpAffine(
                moved, matrix, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        grey_s = cv2.cvtColor(shifted, cv2.COLOR_RGB2GRAY)
        if _whole_correlation(grey_s, grey_t) >= _MIN_SHIFT_CORRELATION:
            if shifted is not moved:
                facts["shifted"] = [round(float(matrix[0, 2]), 2), round(float(matrix[1, 2]), 2)]
            return shifted, facts
    grey_m = cv2.cvtColor(moved, cv2.COLOR_RGB2GRAY)
    matrix, inliers = _similarity(grey_m, grey_t)
    facts["inliers"] = inliers
    if matrix is None:
        if moved.shape[:2] != (th, tw):
            return None, facts
        return moved, facts  # same frame, too plain to match: checked by correlation later
    if not _is_identity(matrix):
        moved = cv2.warpAffine(
            moved, matrix, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        facts["warped"] = [[round(float(v), 4) for v in row] for row in matrix]
    return moved, facts


def _correlation(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    x = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)[where].astype(np.float64)
    y = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)[where].astype(np.float64)
    if x.size < 64 or x.std() < 1e-6 or y.std() < 1e-6:
        return 1.0 if x.size >= 64 and np.abs(x - y).mean() < 8 else 0.0
    return float(np.corrcoef(x, y)[0, 1])


# --- the region a swap may change ---------------------------------------------------------------


def _geometry(face: Any, shape: tuple[int, ...]) -> dict[str, float]:
    left, top, right, bottom = (float(v) for v in face.box)
    return {
        "h": float(shape[0]),
        "w": float(shape[1]),
        "fw": right - left,
        "fh": bottom - top,
        "cx": (left + right) / 2,
        "top": top,
        "bottom": bottom,
    }


def _box(mask_shape: tuple[int, ...], x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    box = np.zeros(mask_shape[:2], dtype=bool)
    box[int(max(0, y0)) : int(max(0, y1)), int(max(0, x0)) : int(max(0, x1))] = True
    return box


def head_region(rgb: np.ndarray, face: Any) -> np.ndarray:
    """The face (its outline, a little enlarged), the person around it from above the hair to
    the chin (hair), and a band under the jaw line; bool."""
    from vestis.engines.local import models

    g = _geometry(face, rgb.shape)
    region = np.zeros(rgb.shape[:2], dtype=np.uint8)
    oval = face.oval.astype(np.float32)
    centre = oval.mean(axis=0)
    hull = cv2.convexHull((oval - centre) * 1.15 + centre)
    cv2.fillConvexPoly(region, np.round(hull).astype(np.int32), 1)
    person = models.person_mask(rgb) > 0.5
    fw, fh, cx, bottom = g["fw"], g["fh"], g["cx"], g["bottom"]
    head = _box(rgb.shape, cx - 1.2 * fw, cx + 1.2 * fw, g["top"] - fh, bottom + 0.1 * fh)
    jaw = _box(rgb.shape, cx - 0.75 * fw, cx + 0.75 * fw, bottom, bottom + 0.12 * fh)
    return region.astype(bool) | ((head | jaw) & person)


def swap_region(rgb: np.ndarray, face: Any = None) -> np.ndarray | None:
    """Pixels a model swap may change in `rgb`: face, hair, neck, visible skin (bool); None
    when no face is found. `face` (a `FaceGeometry`) says where the face is when it is known
    already."""
    from vestis.engines.local.faces import body_landmarks, find_face
    from vestis.engines.local.skin import skin_weight

    face = face if face is not None else find_face(rgb)
    if face is None:
        return None
    g = _geometry(face, rgb.shape)
    fw, fh, cx, bottom = g["fw"], g["fh"], g["cx"], g["bottom"]
    skin_weights = skin_weight(rgb, face)
    # Visible skin (neck, arms, hands, legs): the skin colour model, without thin specks (pale
    # straps, seams) that share the face's colour.
    opening = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max(3, int(0.06 * fw)) | 1,) * 2)
    skin = cv2.morphologyEx((skin_weights > 0.5).astype(np.uint8), cv2.MORPH_OPEN, opening)
    skin = _large_parts(skin, 0.08 * fw * fh).astype(bool)
    # Neck: below the chin, a face wide, down to the shoulders; only where it is skin (a collar
    # or a turtleneck there is garment).
    shoulders = bottom + 0.6 * fh
    body = body_landmarks(rgb)
    if body is not None and (body[[11, 12], 2] > 0.5).all():
        shoulders = max(bottom + 0.25 * fh, float(body[[11, 12], 1].mean()))
    neck = _box(rgb.shape, cx - 0.75 * fw, cx + 0.75 * fw, bottom, shoulders)
    region = head_region(rgb, face) | (neck & (skin_weights > 0.1)) | skin
    return _grown(region, fw)


def _grown(region: np.ndarray, face_width: float) -> np.ndarray:
    margin = max(3, int(round(0.04 * face_width))) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (margin, margin))
    return cv2.dilate(region.astype(np.uint8), kernel).astype(bool)


# --- the photo's region, ahead of time ------------------------------------------------------------

_prepared = None  # ContentCache of (face, region) by photo content, made on first use
_preparer: ThreadPoolExecutor | None = None
_prepare_lock = threading.Lock()


def _photo_cache() -> Any:
    global _prepared
    if _prepared is None:
        from vestis.engines.local.faces import ContentCache

        _prepared = ContentCache(size=32)
    return _prepared


def photo_region(rgb: np.ndarray) -> tuple[Any, np.ndarray | None]:
    """(face, swap region) of a photo, computed once per photo content (variations share it)."""
    from vestis.engines.local.faces import content_key, find_face

    cache = _photo_cache()
    key = content_key(rgb)
    found = cache.get(key)
    if isinstance(found, Future):
        try:
            return found.result()  # type: ignore[no-any-return]
        except Exception:  # the background preparation failed: work it out here
            found = None
    if isinstance(found, tuple):
        return found
    face = find_face(rgb)
    made = (face, swap_region(rgb, face) if face is not None else None)
    cache.put(key, made)
    return made


def prepare(photos: list[Image.Image]) -> None:
    """Start working out the swap region of `photos` in the background (one thread, so its
    models load once), while the upstream makes the outputs; `lock_garments` then finds them
    ready."""
    global _preparer
    from vestis.engines.local.faces import content_key

    with _prepare_lock:
        if _preparer is None:
            _preparer = ThreadPoolExecutor(1, thread_name_prefix="garment-lock")
    cache = _photo_cache()
    for photo in photos:
        rgb = _rgb(photo)
        key = content_key(rgb)
        if not isinstance(cache.get(key), Future | tuple):
            future: Future[tuple[Any, np.ndarray | None]] = Future()
            cache.put(key, future)
            _preparer.submit(_fill, rgb, key, future)


def _fill(rgb: np.ndarray, key: str, future: Future[Any]) -> None:
    from vestis.engines.local.faces import find_face

    try:
        face = find_face(rgb)
        made = (face, swap_region(rgb, face) if face is not None else None)
    except Exception as exc:  # the caller computes it again itself
        future.set_exception(exc)
        _photo_cache().put(key, None)
        return
    _photo_cache().put(key, made)
    future.set_result(made)


def _large_parts(mask: np.ndarray, min_area: float) -> np.ndarray:
    """`mask` without its connected parts smaller than `min_area` pixels (a hand is not)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels].astype(np.uint8)


def lock_garments(target: Image.Image, output: Image.Image) -> LockResult:
    """`output` with every pixel outside the swap region set back to `target`'s."""
    source = _rgb(target)
    made = _rgb(output)
    aligned, facts = align(made, source)
    if aligned is None:
        return _unlocked(output, "the output has another shape than the photo", facts)
    face, prepared = photo_region(source)
    if face is None or prepared is None:
        return _unlocked(output, "no face was found in the photo to bound the swap", facts)
    # The output's own head and hair where the photo's face is: new hair may reach further.
    region = prepared | _grown(head_region(aligned, face), float(face.box[2] - face.box[0]))
    outside = ~region
    correlation = _correlation(aligned, source, outside)
    facts["correlation_outside"] = round(correlation, 4)
    if correlation < _MIN_CORRELATION:
        return _unlocked(output, "the output could not be aligned with the photo", facts)
    face_width = max(8.0, float(region.any(axis=0).sum()) / 3)
    feather = max(2.0, 0.06 * face_width)
    inside = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
    alpha = np.clip(inside / feather, 0.0, 1.0)[..., None]
    blended = np.clip(alpha * aligned + (1.0 - alpha) * source + 0.5, 0, 255).astype(np.uint8)
    composite = np.where(region[..., None], blended, source)
    locked = float((composite == source).all(axis=2).mean())
    facts.update({"region_share": round(float(region.mean()), 6), "feather_px": round(feather, 1)})
    return LockResult(Image.fromarray(composite), round(locked, 6), [], facts)


def _unlocked(output: Image.Image, why: str, facts: dict[str, Any]) -> LockResult:
    warning = f"garment lock not applied: {why}; the garments are as the engine made them"
    return LockResult(output.convert("RGB"), None, [warning], facts)


def repaints(engine: object) -> bool:
    """True for engines that redraw the whole photo (their swaps get the garment lock)."""
    return bool(getattr(engine, "repaints", False))


def lock_if_repainted(
    engine: object, job_type: str, target: Image.Image | None, made: Any, enabled: bool = True
) -> float | None:
    """The garment lock of a model-swap output (`EngineOutput`, changed in place: image,
    warnings, `garment_locked_share`) when `engine`, the engine that made it, repaints photos;
    the share of pixels kept from `target`, None when not locked."""
    if not enabled or job_type != "model_swap" or target is None or not repaints(engine):
        return None
    locked = lock_garments(target, made.image)
    made.image = locked.image
    made.warnings = [*made.warnings, *locked.warnings]
    made.metadata = {**made.metadata, "garment_lock": locked.metadata}
    made.garment_locked_share = locked.locked_share
    return locked.locked_share
