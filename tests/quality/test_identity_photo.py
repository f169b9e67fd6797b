"""The identity photo checks, on photos derived from scikit-image's astronaut (a real face:
a smile with teeth, no glasses, no facial hair) and matplotlib's Grace Hopper (glasses): each
finding is drawn onto the photo, and only that finding appears."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance

from vestis.quality.identity_photo import (
    MIN_FACE_PX,
    check_identity_photo,
    face_boxes,
    mesh_points,
)


@pytest.fixture(scope="module")
def portrait(astronaut: Image.Image) -> Image.Image:
    """The astronaut's head and shoulders at twice the size (a face about 180 px wide)."""
    return astronaut.crop((96, 0, 352, 256)).resize((512, 512), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def mesh(portrait: Image.Image) -> np.ndarray:
    rgb = np.asarray(portrait)
    points = mesh_points(rgb, face_boxes(rgb)[0][0])
    assert points is not None
    return points[:, :2]


def _names(image: Image.Image) -> list[str]:
    return check_identity_photo(image).names()


def test_the_astronaut_smiles_with_her_teeth_and_nothing_else(portrait: Image.Image) -> None:
    check = check_identity_photo(portrait)
    assert check.faces == 1
    assert check.names() == ["open_mouth"]
    assert "with teeth shown" in check.findings[0].message
    figures = check.figures
    assert abs(figures["yaw"] or 0) < 15 and abs(figures["roll"] or 0) < 10
    assert (figures["face_px"] or 0) > MIN_FACE_PX
    assert check.as_dict()["findings"][0]["name"] == "open_mouth"


def test_grace_hopper_wears_glasses(hopper: Image.Image) -> None:
    check = check_identity_photo(hopper)
    assert check.faces == 1 and "glasses" in check.names()
    message = next(f.message for f in check.findings if f.name == "glasses")
    assert "cannot take them off" in message and "without glasses" in message


def test_drawn_glasses_are_found(portrait: Image.Image, mesh: np.ndarray) -> None:
    framed = portrait.copy()
    draw = ImageDraw.Draw(framed)
    for outer, inner in ((33, 133), (263, 362)):
        (x0, y0), (x1, _) = mesh[outer], mesh[inner]
        left, right = min(x0, x1) - 8, max(x0, x1) + 8
        draw.rectangle((left, y0 - 16, right, y0 + 18), outline=(20, 20, 20), width=5)
    bridge = (mesh[133] + mesh[362]) / 2
    draw.line(
        (mesh[133][0], bridge[1] - 6, mesh[362][0], bridge[1] - 6), fill=(20, 20, 20), width=5
    )
    assert "glasses" in _names(framed)


def test_a_dark_moustache_and_goatee_are_facial_hair(
    portrait: Image.Image, mesh: np.ndarray
) -> None:
    bearded = portrait.copy()
    draw = ImageDraw.Draw(bearded)
    for index in (0, 2, 17, 152):  # upper lip, under the nose, under the lip, chin
        x, y = mesh[index]
        draw.ellipse((x - 22, y - 9, x + 22, y + 9), fill=(45, 35, 30))
    assert "facial_hair" in _names(bearded)


def test_red_lipstick_is_strong_lip_colour(portrait: Image.Image, mesh: np.ndarray) -> None:
    from vestis.quality.identity_photo import _OUTER_LIPS

    painted = portrait.copy()
    ImageDraw.Draw(painted).polygon([tuple(mesh[i]) for i in _OUTER_LIPS], fill=(200, 10, 40))
    assert "lip_colour" in _names(painted)


def test_a_tilted_head_is_a_pose_finding(portrait: Image.Image) -> None:
    tilted = portrait.rotate(28, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))
    check = check_identity_photo(tilted)
    assert "pose" in check.names()
    assert "tilted" in next(f.message for f in check.findings if f.name == "pose")


def test_a_small_face_and_uneven_light(portrait: Image.Image, mesh: np.ndarray) -> None:
    small = portrait.resize((256, 256), Image.Resampling.LANCZOS)
    assert "small_face" in _names(small)
    half = int(mesh[1][0])  # the nose tip: one side of the face in shadow
    shaded = portrait.copy()
    shadow = ImageEnhance.Brightness(shaded.crop((0, 0, half, 512))).enhance(0.4)
    shaded.paste(shadow, (0, 0))
    names = _names(shaded)
    assert "uneven_light" in names and "small_face" not in names


def test_two_people_are_counted(portrait: Image.Image) -> None:
    pair = Image.new("RGB", (1024, 512))
    pair.paste(portrait, (0, 0))
    pair.paste(portrait.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    assert check_identity_photo(pair).faces == 2
    # A face far smaller than the main one (a poster behind) is not another person.
    poster = portrait.copy()
    poster.paste(portrait.resize((96, 96)), (400, 400))
    assert check_identity_photo(poster).faces == 1


def test_no_face_no_findings() -> None:
    check = check_identity_photo(Image.new("RGB", (200, 200), (90, 120, 150)))
    assert check.faces == 0 and check.findings == [] and check.figures == {}
