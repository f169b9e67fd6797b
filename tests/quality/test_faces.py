"""The face-identity measure: different people apart, the same photo transformed together."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from vestis.quality import SAME_PERSON, face_distance, face_signature


def test_two_different_people_are_apart(astronaut: Image.Image, hopper: Image.Image) -> None:
    a, b = face_signature(astronaut), face_signature(hopper)
    assert a is not None and b is not None
    assert face_distance(a, b) > SAME_PERSON


@pytest.mark.parametrize(
    "change",
    [
        ImageOps.mirror,
        lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
        lambda im: im.resize((im.width * 3 // 2, im.height * 3 // 2), Image.Resampling.BICUBIC),
        lambda im: ImageOps.mirror(im.resize((im.width * 2 // 3, im.height * 2 // 3))),
    ],
    ids=["flipped", "half-size", "one-and-a-half", "flipped-two-thirds"],
)
def test_a_photo_matches_its_flipped_or_rescaled_copy(
    astronaut: Image.Image, hopper: Image.Image, change: object
) -> None:
    for photo, other in ((astronaut, hopper), (hopper, astronaut)):
        copy = change(photo)  # type: ignore[operator]
        original, changed = face_signature(photo), face_signature(copy)
        assert original is not None and changed is not None
        assert face_distance(original, changed) < SAME_PERSON
        # ...and the copy is still further from the other person than from its original.
        stranger = face_signature(other)
        assert stranger is not None
        assert face_distance(changed, stranger) > face_distance(changed, original)


def test_the_small_face_of_a_full_length_shot_is_found(astronaut: Image.Image) -> None:
    """A face about 45 px wide in a 900 x 1200 frame, as in a full-length catalogue shot."""
    canvas = Image.new("RGB", (900, 1200), (228, 228, 226))
    head = astronaut.resize((240, 240), Image.Resampling.LANCZOS)
    canvas.paste(head, (340, 60))
    ImageDraw.Draw(canvas).rectangle((360, 300, 560, 1150), fill=(40, 50, 80))  # a body
    small, original = face_signature(canvas), face_signature(astronaut)
    assert small is not None and original is not None
    assert 340 < small.box[0] < small.box[2] < 580
    assert 30 <= small.width <= 70
    assert face_distance(small, original) < SAME_PERSON


def test_no_face_in_a_drawing() -> None:
    drawing = Image.new("RGB", (400, 500), (230, 230, 230))
    ImageDraw.Draw(drawing).ellipse((120, 80, 280, 260), fill=(200, 170, 150))
    assert face_signature(drawing) is None


def test_the_same_face_near_a_known_one_gives_distance_zero(pdp_photo: Image.Image) -> None:
    """An output measured at the target's face, unchanged, is exactly the target (no jitter
    from locating the face again); a face painted over is not found there."""
    target = face_signature(pdp_photo)
    assert target is not None
    same = face_signature(np.asarray(pdp_photo).copy(), near=target)
    assert same is not None and face_distance(same, target) == pytest.approx(0.0, abs=1e-6)
    covered = pdp_photo.copy()
    ImageDraw.Draw(covered).rectangle(target.box, fill=(90, 160, 90))
    assert face_signature(covered, near=target) is None
