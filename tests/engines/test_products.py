"""The local engine's packshots and garment recolours on drawn garments whose true masks are
known: the garment whole and centred on white or a surface, the colour asked for, the print and
everything outside the garment kept; refusals that say which engine can."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tests.engines.drawn_garments import BACKDROPS, draw_garment

from vestis.engines.base import EngineError, FlatGarment, PackshotSpec, RecolorSpec
from vestis.engines.local import LocalEngine
from vestis.engines.local.packshot import make_packshot
from vestis.engines.local.products import colour_from_words
from vestis.engines.local.recolor import garment_mask, shift_to
from vestis.quality import colour

RED = (178, 40, 44)


@pytest.fixture(scope="module")
def tee() -> np.ndarray:
    drawn = draw_garment("tee", RED, BACKDROPS["lightgrey"], seed=4, size=(480, 640))
    return np.asarray(drawn.image)


def _spec(rgb: np.ndarray, instruction: dict, size: tuple[int, int]) -> PackshotSpec:
    garment = FlatGarment(image=Image.fromarray(rgb), filename="front.jpg")
    return PackshotSpec(garments=[garment], width=size[0], height=size[1], seed=1,
                        instruction=instruction)  # fmt: skip


def test_white_cutout_is_the_whole_garment_centred_on_pure_white(tee: np.ndarray) -> None:
    out = LocalEngine().create_packshot(
        _spec(tee, {"style": "white_cutout", "shadow": "none"}, (600, 800))
    )
    image = np.asarray(out.image)
    assert image.shape == (800, 600, 3)
    garment = (image != 255).any(axis=2)
    assert (image[~garment] == 255).all()  # pure white wherever the garment is not
    ys, xs = np.nonzero(garment)
    assert abs((xs.min() + xs.max()) / 2 - 300) < 6 and abs((ys.min() + ys.max()) / 2 - 400) < 6
    assert 0.78 <= max((xs.max() - xs.min()) / 600, (ys.max() - ys.min()) / 800) <= 0.82
    assert out.metadata["garment_whole"] is True and out.warnings == []
    red = colour.median_lab(image, garment & (image.astype(int).sum(axis=2) < 500))
    assert red is not None and colour.delta_e(red, colour.median_lab(tee, _tee_mask())) < 6


def _tee_mask() -> np.ndarray:
    return draw_garment("tee", RED, BACKDROPS["lightgrey"], seed=4, size=(480, 640)).mask


def test_flat_lay_on_the_named_surface_with_a_shadow(tee: np.ndarray) -> None:
    plain = make_packshot(tee, {"style": "flat_lay", "surface": "slate grey", "shadow": "none"},
                          (512, 512))  # fmt: skip
    assert tuple(plain.image[2, 2]) == colour.parse_colour("slate grey")
    shaded = make_packshot(tee, {"style": "flat_lay", "surface": "slate grey"}, (512, 512))
    assert shaded.image.astype(int).sum() < plain.image.astype(int).sum()  # soft drop shadow
    unknown = make_packshot(tee, {"style": "flat_lay", "surface": "weathered oak"}, (256, 256))
    assert any("weathered oak" in note for note in unknown.notes)


def test_full_frame_fills_more_than_a_square_packshot(tee: np.ndarray) -> None:
    def extent(framing: str) -> int:
        made = make_packshot(tee, {"style": "white_cutout", "framing": framing}, (512, 512))
        return int((made.image != 255).any(axis=2).any(axis=1).sum())

    assert extent("full_frame") > extent("square_packshot") * 1.1


@pytest.mark.parametrize("style", ["ghost_mannequin", "marketing_ready", "free"])
def test_generative_styles_are_refused_naming_the_engine_that_can(
    tee: np.ndarray, style: str
) -> None:
    with pytest.raises(EngineError, match="hosted On-Model service"):
        LocalEngine().create_packshot(_spec(tee, {"style": style}, (256, 256)))


def test_a_photo_with_no_garment_to_cut_out_is_refused() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)
    with pytest.raises(EngineError, match="could not be cut out"):
        make_packshot(noise, {"style": "white_cutout"}, (256, 256))


def test_recolour_hits_the_colour_and_keeps_the_rest(tee: np.ndarray) -> None:
    mask = garment_mask(tee)
    navy = colour.parse_colour("navy")
    out = shift_to(tee, mask.alpha, colour.colour_lab(navy))
    assert (out[mask.alpha == 0] == tee[mask.alpha == 0]).all()  # bit for bit outside
    truth = _tee_mask()
    assert colour.delta_e(colour.median_lab(out, truth), colour.colour_lab(navy)) < 2
    before = colour.to_lab(tee[truth])[:, 0]
    after = colour.to_lab(out[truth])[:, 0]
    assert after.std() > 0.4 * before.std()  # the folds and weave are still there
    measured = colour.measure_recolour(tee, out, mask.alpha, navy)
    assert measured.unchanged_outside == 1.0 and measured.delta_e2000 < 2


def test_a_print_keeps_its_colour() -> None:
    drawn = draw_garment("tee", RED, BACKDROPS["lightgrey"], seed=5, size=(480, 640))
    rgb = np.asarray(drawn.image).copy()
    rgb[260:320, 210:270] = (245, 245, 240)  # a white print on the chest
    out = shift_to(rgb, garment_mask(rgb).alpha, colour.colour_lab(colour.parse_colour("navy")))
    print_before = colour.to_lab(rgb[270:310, 220:260].reshape(-1, 3)).mean(axis=0)
    print_after = colour.to_lab(out[270:310, 220:260].reshape(-1, 3)).mean(axis=0)
    assert colour.delta_e(print_before, print_after) < 5


def test_the_engine_takes_the_colour_of_a_reference_image(tee: np.ndarray) -> None:
    swatch = Image.new("RGB", (80, 80), (30, 110, 60))
    spec = RecolorSpec(image=Image.fromarray(tee), seed=0, reference=swatch)
    out = LocalEngine().garment_recolor(spec)
    assert out.metadata["target"] == (30, 110, 60)
    assert out.metadata["delta_e2000"] < 2 and out.metadata["unchanged_outside_garment"] == 1.0


def test_no_colour_in_the_instruction_is_refused(tee: np.ndarray) -> None:
    spec = RecolorSpec(image=Image.fromarray(tee), seed=0, instruction="make it pop")
    with pytest.raises(EngineError, match="no colour"):
        LocalEngine().garment_recolor(spec)


def test_colours_from_codes_names_and_words() -> None:
    assert colour.parse_colour("#2e5a3b") == colour.parse_colour("2E5A3B") == (46, 90, 59)
    assert colour.parse_colour("Forest Green") == (34, 139, 34)  # CSS first
    assert colour.parse_colour("burgundy") == (97, 0, 35)  # then the xkcd names
    with pytest.raises(ValueError, match="not a colour"):
        colour.parse_colour("sparkly")
    assert colour_from_words("make it forest green please") == (34, 139, 34)
    assert colour_from_words("recolour to #112233") == (17, 34, 51)
    assert colour_from_words("something nice") is None
