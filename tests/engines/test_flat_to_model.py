"""Flat-to-model through LocalEngine on drawn flat-lays."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vestis.contract import output_dimensions
from vestis.engines.base import EngineError, FlatGarment, FlatSpec
from vestis.engines.local import LocalEngine
from vestis.engines.local.garments import kind_from_text, prepare
from vestis.runs import samples


@pytest.fixture(scope="module")
def garments() -> list[FlatGarment]:
    return [
        FlatGarment(samples.make_flat_lay("top", (196, 52, 60)), "IMG_001.jpg"),
        FlatGarment(samples.make_flat_lay("bottom", (40, 56, 92)), "IMG_002.jpg", "wide leg"),
    ]


def _spec(garments, identity, width=384, height=512, **kw) -> FlatSpec:
    return FlatSpec(garments=garments, identity=identity, width=width, height=height,
                    seed=kw.pop("seed", 5), **kw)  # fmt: skip


@pytest.mark.parametrize(
    ("size", "ar"),
    [("1K", "1:1"), ("1K", "3:4"), ("1K", "4:3"), ("1K", "9:16"), ("1K", "16:9"),
     ("2K", "3:4"), ("2K", "16:9")],
)  # fmt: skip
def test_exact_output_size(engine: LocalEngine, garments, identity, size, ar) -> None:
    width, height = output_dimensions(size, ar)
    out = engine.flat_to_model(_spec(garments, identity, width, height))
    assert out.image.size == (width, height) and out.image.mode == "RGB"
    assert out.model_used == "local"


def test_4k_output_size(engine, garments, identity) -> None:
    width, height = output_dimensions("4K", "3:4")
    assert engine.flat_to_model(_spec(garments, identity, width, height)).image.size == (3072, 4096)


def test_custom_width_height(engine, garments, identity) -> None:
    out = engine.flat_to_model(_spec(garments, identity, 520, 1040))
    assert out.image.size == (520, 1040)


def test_deterministic_and_variations_differ(engine, garments, identity) -> None:
    a = np.asarray(engine.flat_to_model(_spec(garments, identity)).image)
    b = np.asarray(engine.flat_to_model(_spec(garments, identity)).image)
    c = np.asarray(engine.flat_to_model(_spec(garments, identity, variation=1)).image)
    assert (a == b).all()
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 1.0


@pytest.mark.parametrize(
    ("words", "colour"),
    [("white studio", (250, 250, 248)), ("light grey", None), ("beige", (228, 214, 190)),
     ("navy", (28, 40, 78)), ("red", (255, 0, 0))],
)  # fmt: skip
def test_background_words(engine, garments, identity, words, colour) -> None:
    out = engine.flat_to_model(_spec(garments, identity, instruction={"background": words}))
    corner = np.asarray(out.image)[2:12, 2:12].reshape(-1, 3).mean(axis=0)
    assert not [w for w in out.warnings if w.startswith("background")]
    if colour is None:  # light grey: light, and grey
        assert corner.min() > 170 and corner.max() - corner.min() < 6
    else:
        assert np.abs(corner - np.array(colour)).max() < 24


def test_warnings_for_fields_it_cannot_honour(engine, garments, identity) -> None:
    instruction = {"pose": "walking side angle", "camera": {"angle": "low"}, "expression": "smile",
                   "lighting": "golden hour", "mood": "happy", "style": "editorial", "prompt": "x",
                   "background": "urban street"}  # fmt: skip
    out = engine.flat_to_model(_spec(garments, identity, instruction=instruction))
    for field in ("pose", "camera", "expression", "lighting", "mood", "style", "prompt",
                  "background"):  # fmt: skip
        assert any(w.startswith(field) for w in out.warnings), field
    plain = engine.flat_to_model(
        _spec(garments, identity, instruction={"pose": "standing front-facing"})
    )
    # The sample identity is a head-and-shoulders portrait: the mannequin stands in, and says so.
    assert plain.warnings == [
        "the identity image shows no body (shoulders and hips), only a face or a bust; dressed "
        "a body template with the identity's head instead"
    ]
    assert plain.metadata["body"] != "identity"


def test_garment_kinds() -> None:
    assert kind_from_text("tucked into pants") == "bottom"
    assert kind_from_text("overall_floral_dress") == "dress"
    assert kind_from_text("upper_cardigan") == "outerwear"
    assert kind_from_text("Nike sneakers") == "shoes"
    assert kind_from_text("IMG_0001") is None
    for kind in ("top", "bottom", "dress", "shoes"):
        rgb = np.asarray(samples.make_flat_lay(kind, (120, 60, 160), seed=2))
        assert prepare(rgb, "IMG_1.jpg", None).kind == kind  # from the shape
    top = np.asarray(samples.make_flat_lay("top"))
    assert prepare(top, "jeans.jpg", None).kind == "bottom"  # the file name beats the shape
    assert prepare(top, "jeans.jpg", "a shirt").kind == "top"  # the note beats the file name


def test_barefoot_drops_shoes(engine, identity) -> None:
    items = [FlatGarment(samples.make_flat_lay("dress"), "dress.jpg"),
             FlatGarment(samples.make_flat_lay("shoes", (20, 20, 20)), "shoes.jpg")]  # fmt: skip
    out = engine.flat_to_model(_spec(items, identity, barefoot=True))
    assert [g["kind"] for g in out.metadata["garments"]] == ["dress"]
    assert any("barefoot" in w for w in out.warnings)


def test_garment_is_drawn_on_the_body(engine, identity) -> None:
    red = [FlatGarment(samples.make_flat_lay("top", (220, 20, 30)), "top.jpg")]
    out = engine.flat_to_model(_spec(red, identity, instruction={"background": "white"}))
    image = np.asarray(out.image).astype(int)
    redness = (image[..., 0] - image[..., 1] > 80) & (image[..., 0] > 150)
    ys, xs = np.nonzero(redness)
    assert len(ys) > 2000
    # The top sits in the upper half of the frame, centred.
    assert 0.15 < ys.mean() / image.shape[0] < 0.55 and abs(xs.mean() / image.shape[1] - 0.5) < 0.1


def test_no_garment_found(engine, identity) -> None:
    blank = [FlatGarment(Image.new("RGB", (300, 300), (250, 250, 250)), "blank.jpg")]
    with pytest.raises(EngineError, match="No garment"):
        engine.flat_to_model(_spec(blank, identity))


def test_watermark(engine, garments, identity) -> None:
    plain = np.asarray(engine.flat_to_model(_spec(garments, identity)).image)
    marked = np.asarray(
        engine.flat_to_model(_spec(garments, identity, add_ai_watermark=True)).image
    )
    diff = (plain != marked).any(axis=2)
    assert diff[int(512 * 0.85) :, 192:].any()
    diff[int(512 * 0.85) :, 192:] = False
    assert not diff.any()


def test_transparent_packshot(engine, identity) -> None:
    top = samples.make_flat_lay("top", (30, 160, 60)).convert("RGBA")
    pixels = np.asarray(top).copy()
    background = np.abs(pixels[..., :3].astype(int) - [246, 245, 242]).sum(axis=2) < 20
    pixels[background] = (0, 0, 0, 0)  # a cut-out PNG: transparent, black underneath
    out = engine.flat_to_model(_spec([FlatGarment(Image.fromarray(pixels), "a.png")], identity))
    assert [g["kind"] for g in out.metadata["garments"]] == ["top"]
    image = np.asarray(out.image).astype(int)
    green = (image[..., 1] - image[..., 0] > 60) & (image[..., 1] > 120)
    assert green.sum() > 2000
