"""Every mediapipe solution vestis builds is only ever given pixels that mediapipe copies.

A read-only array (what `np.asarray` of a PIL image is) would be taken by reference, and
mediapipe's packet deleter drops that reference off the GIL, on its own threads: a refcount race
and a free outside the GIL when several worker threads measure at once."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vestis.engines.local import models as engine_models
from vestis.quality import mesh, models
from vestis.quality.models import Solution, owned_pixels, quiet_mediapipe


class Recorder:
    """A stand-in solution that keeps what `process` was given."""

    def __init__(self) -> None:
        self.given: list[np.ndarray] = []

    def process(self, rgb: np.ndarray) -> str:
        self.given.append(rgb)
        return "result"


def read_only_photo() -> np.ndarray:
    rgb = np.asarray(Image.new("RGB", (64, 48), (120, 90, 60)))
    assert not rgb.flags.writeable  # as Pillow makes it: mediapipe would share it
    return rgb


def test_read_only_pixels_are_copied_into_a_writeable_contiguous_array() -> None:
    rgb = read_only_photo()
    owned = owned_pixels(rgb)
    assert owned is not rgb and owned.flags.writeable and owned.flags.c_contiguous
    assert owned.dtype == np.uint8 and np.array_equal(owned, rgb)


def test_views_and_other_dtypes_are_copied_too() -> None:
    wide = np.zeros((48, 64, 4), dtype=np.uint8)
    view = wide[..., :3]  # writeable but not contiguous
    assert not view.flags.c_contiguous
    assert owned_pixels(view).flags.c_contiguous
    as_int = np.zeros((8, 8, 3), dtype=np.int64)
    assert owned_pixels(as_int).dtype == np.uint8


def test_a_writeable_contiguous_array_is_passed_as_it_is() -> None:
    """mediapipe copies such an array itself: no second copy."""
    rgb = np.zeros((48, 64, 3), dtype=np.uint8)
    assert owned_pixels(rgb) is rgb


def test_a_solution_hands_process_only_owned_pixels() -> None:
    recorder = Recorder()
    solution = Solution(recorder)
    assert solution.process(read_only_photo()) == "result"
    (given,) = recorder.given
    assert given.flags.writeable and given.flags.c_contiguous


def test_quiet_mediapipe_wraps_what_it_builds() -> None:
    """The warm-up run goes through the wrapper as well."""
    recorder = Recorder()
    built = quiet_mediapipe(lambda: recorder)
    assert isinstance(built, Solution)
    built.process(read_only_photo())
    assert len(recorder.given) == 2
    assert all(rgb.flags.writeable for rgb in recorder.given)


@pytest.mark.parametrize(
    "factory",
    [
        models.face_locator,
        engine_models.face_detector,
        mesh.face_mesh,
        engine_models.pose,
        engine_models.selfie_segmentation,
    ],
)
def test_every_model_of_the_measures_and_the_engine_is_wrapped(factory: Any) -> None:
    """Built in a thread of its own (models are per thread), each real mediapipe solution
    comes back wrapped, and runs on a read-only photo."""
    built: list[Any] = []
    thread = threading.Thread(target=lambda: built.append(factory()))
    thread.start()
    thread.join()
    (model,) = built
    assert isinstance(model, Solution)
    model.process(read_only_photo())
    model.close()
