"""mediapipe's 478-point face mesh on a crop around a located face, in image pixels: what the
local engine warps along and what the realism measure reads expressions and features from."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from vestis.quality.models import _get, quiet_mediapipe

Box = tuple[int, int, int, int]

#: Crop side around a face box, in face-box sizes, and the mesh's input size.
CROP_FACTOR = 2.0
MESH_INPUT = 384


def face_mesh() -> Any:
    """478-point face mesh (468 + irises), static-image mode, one per thread."""
    import mediapipe as mp

    return _get(
        "face_mesh",
        lambda: quiet_mediapipe(
            lambda: mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                refine_landmarks=True,
                max_num_faces=1,
                min_detection_confidence=0.4,
            )
        ),
    )


def mesh_in_crop(rgb: np.ndarray, box: Box) -> np.ndarray | None:
    """The face mesh on a square crop around `box`: (478, 3) x, y and depth in image pixels,
    or None when the mesh finds no face there."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(box[2] - box[0], box[3] - box[1]) * CROP_FACTOR
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    side_i = max(int(round(side)), 8)
    # Pad with edge pixels so that a face at the border still gets a square, centred crop.
    pad = side_i
    padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[y0 + pad : y0 + pad + side_i, x0 + pad : x0 + pad + side_i]
    if crop.shape[0] != side_i or crop.shape[1] != side_i:
        return None
    interp = cv2.INTER_CUBIC if side_i < MESH_INPUT else cv2.INTER_AREA
    scaled = cv2.resize(crop, (MESH_INPUT, MESH_INPUT), interpolation=interp)
    result = face_mesh().process(scaled)
    if not result.multi_face_landmarks:
        return None
    points = np.array(
        [(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], dtype=np.float32
    )
    points *= side_i
    points[:, :2] += np.array([x0, y0], dtype=np.float32)
    return points


def mesh_whole(rgb: np.ndarray) -> np.ndarray | None:
    """The mesh's own detector on the whole image (a close-up other detectors framed oddly)."""
    result = face_mesh().process(rgb)
    if not result.multi_face_landmarks:
        return None
    h, w = rgb.shape[:2]
    return np.array(
        [(p.x * w, p.y * h, p.z * w) for p in result.multi_face_landmarks[0].landmark],
        dtype=np.float32,
    )
