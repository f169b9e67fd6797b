"""The mediapipe models the local engine runs, created lazily, once per worker thread.

mediapipe's solution objects keep a graph with internal state and are not safe to share between
threads; the server calls the engine from several worker threads, so each thread gets its own
instances (created on first use, then reused). mediapipe is imported here only, on first use, so
that importing the engine (and starting the server) stays quick.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from vestis.quality.models import quiet_mediapipe

_local = threading.local()


def _get(name: str, factory: Any) -> Any:
    model = getattr(_local, name, None)
    if model is None:
        model = quiet_mediapipe(factory)
        setattr(_local, name, model)
    return model


def face_detector() -> Any:
    """Full-range face detection (faces up to about 5 m away: full-body catalogue shots)."""
    import mediapipe as mp

    return _get(
        "face_detection",
        lambda: mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=0.5
        ),
    )


def pose() -> Any:
    """33-point body pose, static-image mode."""
    import mediapipe as mp

    return _get(
        "pose",
        lambda: mp.solutions.pose.Pose(static_image_mode=True, min_detection_confidence=0.5),
    )


def selfie_segmentation() -> Any:
    """Person / background segmentation (the landscape model: works for full bodies too)."""
    import mediapipe as mp

    return _get(
        "selfie_segmentation",
        lambda: mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1),
    )


def person_mask(rgb: np.ndarray) -> np.ndarray:
    """Soft person mask in [0, 1], same height and width as `rgb`."""
    result = selfie_segmentation().process(np.ascontiguousarray(rgb))
    return np.asarray(result.segmentation_mask, dtype=np.float32)
