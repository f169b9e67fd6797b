"""The mediapipe models the local engine runs, created lazily, once per worker thread.

mediapipe's solution objects keep a graph with internal state and are not safe to share between
threads; the server calls the engine from several worker threads, so each thread gets its own
instances (created on first use, then reused). mediapipe is imported here only, on first use, so
that importing the engine (and starting the server) stays quick.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import numpy as np

_local = threading.local()
#: One model loads at a time: file descriptor 2 is the whole process's, not one thread's.
_loading = threading.Lock()


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a moment. mediapipe's C++ (absl) and TFLite log
    straight to it, from their own threads, when a model is built and first run ("Created
    TensorFlow Lite XNNPACK delegate", "Feedback manager requires...", "All log messages before
    absl::InitializeLog()..."): lines that mean nothing to a user and tear a live progress
    display. Python's `sys.stderr` would not reach them. Anything else written to stderr
    during the moment (a few hundred ms, once per worker thread and model) is lost too."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@cache
def _warm_up_image() -> np.ndarray:
    """A photo with a face and shoulders (scikit-image's astronaut, shipped in its package), so
    a new model's first run, which logs, goes through every stage of its graph."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def _get(name: str, factory: Any) -> Any:
    model = getattr(_local, name, None)
    if model is None:
        with _loading, _native_stderr_silenced():
            model = factory()
            model.process(_warm_up_image())
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


def face_mesh() -> Any:
    """478-point face mesh (468 + irises), static-image mode."""
    import mediapipe as mp

    return _get(
        "face_mesh",
        lambda: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            refine_landmarks=True,
            max_num_faces=1,
            min_detection_confidence=0.4,
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
