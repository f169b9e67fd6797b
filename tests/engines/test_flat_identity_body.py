"""Dressing the identity's own body: its own clothes are found and replaced, and a body that the
photo cuts off, or whose clothes would show under the new ones, gives way to the mannequin."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from tests.engines import drawn_garments as drawn

from vestis.engines.base import FlatGarment, FlatSpec
from vestis.engines.local import LocalEngine, flat
from vestis.engines.local.body import template_body
from vestis.engines.local.clothes import bare, full_length, own_clothes
from vestis.engines.local.faces import FACE_OVAL, FaceGeometry
from vestis.quality.garments import DOUBTFUL_SCORE
from vestis.runs import samples

SKIN = (206, 160, 136)
TANK = (250, 250, 246)
JEANS = (62, 92, 150)


def _pose(ankle_y: float = 700.0) -> np.ndarray:
    """33 pose landmarks (x, y, visibility) of a figure standing straight, arms down."""
    points = np.zeros((33, 3), np.float32)
    for index, (x, y) in {
        11: (150, 180), 12: (250, 180), 13: (118, 300), 14: (282, 300), 15: (116, 410),
        16: (284, 410), 23: (168, 400), 24: (232, 400), 25: (172, 550), 26: (228, 550),
        27: (176, ankle_y), 28: (224, ankle_y),
    }.items():  # fmt: skip
        points[index] = (x, y, 0.99)
    return points


def _person() -> tuple[np.ndarray, np.ndarray, FaceGeometry, dict[str, np.ndarray]]:
    """A drawn figure in a white tank top and jeans on grey, its person mask, a face geometry
    on its head, and the true masks of the tank top and the jeans."""
    w, h = 400, 800
    image = Image.new("RGB", (w, h), (200, 200, 205))
    draw = ImageDraw.Draw(image)
    draw.ellipse([160, 40, 240, 145], fill=SKIN)  # head
    draw.rectangle([186, 130, 214, 180], fill=SKIN)  # neck
    draw.rectangle([135, 170, 265, 420], fill=SKIN)  # torso
    draw.rectangle([103, 175, 133, 430], fill=SKIN)  # arms
    draw.rectangle([267, 175, 297, 430], fill=SKIN)
    truth = {name: Image.new("L", (w, h), 0) for name in ("tank", "jeans")}
    for target, fill in ((draw, None), (ImageDraw.Draw(truth["tank"]), 255)):
        target.rectangle([140, 190, 260, 405], fill=fill or TANK)
    for target, fill in ((draw, None), (ImageDraw.Draw(truth["jeans"]), 255)):
        target.rectangle([145, 405, 198, 700], fill=fill or JEANS)
        target.rectangle([202, 405, 255, 700], fill=fill or JEANS)
    draw.rectangle([150, 700, 250, 730], fill=(30, 30, 30))  # shoes
    rgb = np.asarray(image).copy()
    rgb = np.clip(rgb + np.random.default_rng(0).normal(0, 2, rgb.shape), 0, 255).astype(np.uint8)
    person = (np.abs(rgb.astype(int) - (200, 200, 205)).max(axis=2) > 12).astype(np.float32)
    angles = np.linspace(-np.pi / 2, 1.5 * np.pi, len(FACE_OVAL), endpoint=False)
    landmarks = np.tile(np.float32([200, 92]), (478, 1))
    landmarks[FACE_OVAL] = np.stack([200 + 36 * np.cos(angles), 92 + 48 * np.sin(angles)], 1)
    landmarks[152] = (200, 140)  # the chin
    face = FaceGeometry(landmarks=landmarks, box=(164, 44, 236, 140), confidence=0.9)
    return rgb, person, face, {k: np.asarray(v) > 127 for k, v in truth.items()}


def test_own_clothes_found_and_split_into_top_and_bottom() -> None:
    rgb, person, face, truth = _person()
    clothes = own_clothes(rgb, face, _pose(), person)
    assert drawn.iou(clothes.upper, truth["tank"]) > 0.85
    assert drawn.iou(clothes.lower, truth["jeans"]) > 0.85
    assert clothes.shoes.any() and not (clothes.shoes & truth["tank"]).any()


def test_old_top_painted_over_with_skin() -> None:
    rgb, person, face, truth = _person()
    clothes = own_clothes(rgb, face, _pose(), person)
    painted, region = bare(rgb, clothes.upper, clothes.skin, person)
    assert region[truth["tank"]].mean() > 0.95
    inside = painted[truth["tank"]].astype(float).mean(axis=0)
    assert np.abs(inside - SKIN).max() < 25  # skin-coloured now, not white
    jeans = truth["jeans"].copy()
    jeans[:415] = False  # a few pixels below the top's hem, where the paint fades out
    assert (painted[jeans] == rgb[jeans]).all()  # the jeans stay


def test_full_length_needs_both_ankles_inside_the_frame() -> None:
    assert full_length(_pose(700), 800)
    assert not full_length(_pose(900), 800)  # pose guesses ankles below the frame
    cut = _pose(700)
    cut[27, 2] = 0.1
    assert not full_length(cut, 800)


def _spec(garment: FlatGarment) -> FlatSpec:
    return FlatSpec(garments=[garment], identity=samples.make_identity_image(), width=384,
                    height=512, seed=3)  # fmt: skip


@pytest.fixture()
def white_shirt() -> FlatGarment:
    return FlatGarment(drawn.white_shirt(0).image, "shirt.jpg")


def test_body_cut_by_the_frame_gives_way_to_the_mannequin(
    engine: LocalEngine, white_shirt: FlatGarment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An identity photo that ends at the thighs: dressing that body would end it mid-frame."""
    monkeypatch.setattr(flat, "body_landmarks", lambda rgb: _pose(ankle_y=1.3 * rgb.shape[0]))
    out = engine.flat_to_model(_spec(white_shirt))
    assert out.metadata["body"] == "template"
    assert any("does not show the whole body (down to the feet)" in w for w in out.warnings)
    assert out.metadata["garments"][0]["placement"]["body_cut"] is False


def test_own_clothes_showing_give_way_to_the_mannequin(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dress on a body in jeans, which the dress does not cover down to the ankles: the jeans
    would show below it, so the identity's body is not used."""

    def body_in_jeans(canvas, identity, kinds, rng, warnings):  # noqa: ANN001
        body = template_body(canvas, identity, None, rng)
        body.source = "identity"
        legs = np.zeros(canvas.shape[:2], bool)
        (x0, _), (x1, _) = body.hips
        legs[int(body.hips[0, 1]) : int(body.ankles[0, 1]), int(x0) : int(x1)] = True
        body.own_clothes = {"upper": np.zeros_like(legs), "lower": legs}
        return body

    monkeypatch.setattr(flat, "_identity_body", body_in_jeans)
    dress = drawn.draw_garment("dress", drawn.CREAM, drawn.BACKDROPS["offwhite"], seed=1)
    out = engine.flat_to_model(_spec(FlatGarment(dress.image, "dress.jpg", "dress")))
    assert out.metadata["body"] == "template"
    assert any("own clothes would show" in w for w in out.warnings)
    # The mannequin has no clothes of its own: nothing shows through, the score is not capped.
    assert out.metadata["garments"][0]["placement"]["old_clothes"] == 0.0
    assert out.quality_score > DOUBTFUL_SCORE
