"""Light garments on light backdrops come out whole, are recognised, and a garment that did not
make it is refused or warned with a low score (drawn flat-lays, see drawn_garments.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image
from tests.engines import drawn_garments as drawn

from vestis.engines.base import EngineError, FlatGarment, FlatSpec
from vestis.engines.local import LocalEngine, flat
from vestis.engines.local.cutout import cut_out
from vestis.engines.local.garments import Garment, prepare
from vestis.quality.garments import DOUBTFUL_SCORE
from vestis.runs import samples

#: Share of the true garment the cut-out must match (intersection over union) to be "whole".
WHOLE = 0.9

CASES = {
    "white shirt on white": lambda: drawn.white_shirt(0),
    "white shirt, other folds": lambda: drawn.white_shirt(7),
    "cream knit dress on off-white": lambda: drawn.cream_dress(1),
    "cream dress with black trims on cream": lambda: drawn.cream_knit_dress_with_trim(2),
    "smooth white tee on light grey": lambda: drawn.draw_garment(
        "tee", drawn.WHITE, drawn.BACKDROPS["lightgrey"], seed=3, texture="smooth"
    ),
    "cream trousers on white": lambda: drawn.draw_garment(
        "trousers", drawn.CREAM, drawn.BACKDROPS["white"], seed=4
    ),
    "smooth ivory shirt on cream": lambda: drawn.draw_garment(
        "shirt", drawn.IVORY, drawn.BACKDROPS["cream"], seed=5, texture="smooth"
    ),
    "white knit dress on white, deep shadow": lambda: drawn.draw_garment(
        "dress", drawn.WHITE, drawn.BACKDROPS["white"], seed=6, texture="knit", shadow=0.1
    ),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> drawn.Drawn:
    return CASES[request.param]()


def test_light_garment_comes_out_whole(case: drawn.Drawn) -> None:
    cut = cut_out(np.asarray(case.image))
    assert drawn.iou(cut.alpha > 127, case.mask) >= WHOLE
    verdict, reasons = cut.measures.findings()
    assert verdict == "ok", reasons
    assert cut.measures.kept > 0.85 and cut.measures.fragments == 0


def test_light_garment_kind_from_its_shape(case: drawn.Drawn) -> None:
    assert prepare(np.asarray(case.image), "IMG_0001.jpg", None).kind == case.kind


def test_transparent_white_packshot_is_whole() -> None:
    """A white shirt cut out already (PNG with alpha) is laid on white before the cut-out."""
    shirt = drawn.white_shirt(0)
    rgba = np.dstack([np.asarray(shirt.image), shirt.mask.astype(np.uint8) * 255])
    engine = LocalEngine()
    spec = _spec([FlatGarment(Image.fromarray(rgba, "RGBA"), "a.png")])
    out = engine.flat_to_model(spec)
    assert out.metadata["garments"][0]["cutout"]["verdict"] == "ok"


def _spec(items: list[FlatGarment], **kw: object) -> FlatSpec:
    return FlatSpec(garments=items, identity=samples.make_identity_image(), width=384,
                    height=512, seed=3, **kw)  # type: ignore[arg-type]  # fmt: skip


def test_light_garments_dressed_with_their_measures(engine: LocalEngine) -> None:
    items = [
        FlatGarment(drawn.white_shirt(0).image, "IMG_0001.jpg"),
        FlatGarment(
            drawn.draw_garment("trousers", drawn.CREAM, drawn.BACKDROPS["white"], seed=4).image,
            "IMG_0002.jpg",
        ),
    ]
    out = engine.flat_to_model(_spec(items, instruction={"background": "navy"}))
    garments = out.metadata["garments"]
    assert sorted(g["kind"] for g in garments) == ["bottom", "top"]
    for garment in garments:
        assert garment["cutout"]["verdict"] == "ok"
        assert garment["placement"]["verdict"] == "ok"
        assert garment["placement"]["coverage"] > 0.9
    assert not [w for w in out.warnings if w.startswith("IMG_000")]  # nothing about the garments
    # Both garments show on the navy backdrop: light pixels where the body is.
    image = np.asarray(out.image).astype(int)
    light = (image.min(axis=2) > 200).mean()
    assert light > 0.08


def _trims_only() -> Image.Image:
    """A dress that cannot be told from its backdrop (same colour, no outline, no shadow, no
    texture): all a cut-out can find are its black trims and buttons."""
    w, h = 750, 1000
    image = np.full((h, w, 3), 244, np.uint8)
    image[40:54, 250:500] = 20  # neckline trim
    image[930:946, 200:550] = 20  # hem trim
    image[54:930:12, 372:378] = 20  # a line of buttons
    return Image.fromarray(image)


def test_garment_reduced_to_its_trims_is_refused(engine: LocalEngine) -> None:
    with pytest.raises(EngineError, match="could not be cut out of its photo whole"):
        engine.flat_to_model(_spec([FlatGarment(_trims_only(), "dress.jpg")]))


def test_garment_cut_by_the_frame_is_warned_with_a_low_score(engine: LocalEngine) -> None:
    top = np.asarray(samples.make_flat_lay("top", (196, 52, 60)))
    cropped = Image.fromarray(top[:560])  # the hem is cut off by the frame
    out = engine.flat_to_model(_spec([FlatGarment(cropped, "top.jpg")]))
    assert any("top.jpg: the cut-out may not be the whole garment" in w for w in out.warnings)
    reasons = out.metadata["garments"][0]["cutout"]["reasons"]
    assert any("cut by the photo's frame" in reason for reason in reasons)
    assert out.quality_score <= DOUBTFUL_SCORE


def test_white_garment_cut_by_the_frame_is_refused(engine: LocalEngine) -> None:
    """Where a white garment runs into the frame nothing tells it from the backdrop there, and
    the backdrop floods in: the measures see most of the garment gone."""
    shirt = np.asarray(drawn.white_shirt(0).image)
    with pytest.raises(EngineError, match="could not be cut out of its photo whole"):
        engine.flat_to_model(_spec([FlatGarment(Image.fromarray(shirt[:700]), "shirt.jpg")]))


def test_garment_lost_on_the_body_is_refused(engine: LocalEngine, monkeypatch) -> None:
    """An engine double that loses the garment between cut-out and canvas (draws its collar
    only) is caught by the output's measures, not scored high."""
    place = flat._place_upper

    def collar_only(canvas, g, body, layer=None):  # noqa: ANN001
        collar = g.rgba[: g.rgba.shape[0] // 12].copy()
        return place(canvas, dataclasses.replace(g, rgba=collar), body, layer)

    monkeypatch.setattr(flat, "_place_upper", collar_only)
    items = [FlatGarment(drawn.white_shirt(0).image, "shirt.jpg")]
    with pytest.raises(EngineError, match="did not make it onto the body"):
        engine.flat_to_model(_spec(items))


def test_a_top_hidden_under_a_closed_jacket_is_refused_saying_so(engine: LocalEngine) -> None:
    """The local engine draws outerwear closed: a shirt under a jacket of the same cut is drawn
    and then hidden. The output is refused (the user asked for both), and the reason says what
    happened and what to do, not that the top 'covers 100%' of where it belongs."""
    jacket = drawn.draw_garment("shirt", (40, 60, 110), drawn.BACKDROPS["white"], seed=5)
    shirt = drawn.draw_garment("shirt", (200, 40, 40), drawn.BACKDROPS["white"], seed=6)
    items = [FlatGarment(jacket.image, "jacket.jpg"), FlatGarment(shirt.image, "shirt.jpg")]
    with pytest.raises(EngineError) as refused:
        engine.flat_to_model(_spec(items))
    message = str(refused.value)
    assert message.startswith("shirt.jpg: the top did not make it onto the body")
    assert "hidden under the garments drawn over it" in message
    assert "draws jacket.jpg closed over it" in message and "instruction of its own" in message


def test_a_garment_the_frame_would_shorten_is_refused() -> None:
    """More than a tenth of a garment's length below the frame is refused, saying what to ask
    for; up to a tenth is drawn (a hem at the frame's edge)."""
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 100.0]])  # 400 rows tall from row 100
    assert flat.length_kept((400, 200), matrix, 500) == 1.0
    assert flat.length_kept((400, 200), matrix, 400) == 0.75
    dress = Garment(
        rgba=np.zeros((4, 4, 4), np.uint8), kind="dress", kind_source="note", layer=1.0,
        parts=[(0, 0, 4, 4)], cutout=None,  # type: ignore[arg-type]
    )  # fmt: skip
    flat._refuse_shortened([(dress, "midi.jpg")], [0.91])
    with pytest.raises(EngineError, match=r"midi.jpg: the frame would cut 23% of the dress's"):
        flat._refuse_shortened([(dress, "midi.jpg")], [0.77])


def test_a_dress_cut_out_without_its_hem_is_refused(engine: LocalEngine, monkeypatch) -> None:
    """The cut-out lost the lower 15 % of a dress: refused, saying so (the demo's drawn shoes,
    whose cut-out drops their shadow, are not: tests/cli's demo run)."""
    prepare_once = flat._prepare_cached

    def hem_lost(rgb, filename, note):  # noqa: ANN001
        garment = prepare_once(rgb, filename, note)
        return dataclasses.replace(garment, cutout=dataclasses.replace(garment.cutout, length=0.85))

    monkeypatch.setattr(flat, "_prepare_cached", hem_lost)
    dress = FlatGarment(samples.make_flat_lay("dress", (36, 110, 90)), "midi.jpg")
    with pytest.raises(EngineError, match="the cut-out keeps 85% of the garment's length"):
        engine.flat_to_model(_spec([dress]))
