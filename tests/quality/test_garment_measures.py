"""Garment measures (flat-to-model): a whole cut-out passes, a partial, hollow or scattered one
does not; a garment that misses the body, or leaves the body's own clothes showing, is flagged."""

from __future__ import annotations

import numpy as np

from vestis.quality.garments import (
    DOUBTFUL_SCORE,
    LOST_SCORE,
    garment_score,
    measure_cutout,
    measure_placement,
)


def _box(shape: tuple[int, int], x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_whole_cutout_is_ok() -> None:
    garment = _box((400, 300), 60, 40, 240, 360)
    measures = measure_cutout(garment, garment)
    assert measures.findings() == ("ok", [])
    assert measures.kept == 1.0 and measures.holes == 0.0 and measures.border == 0.0
    assert abs(measures.area - 180 * 320 / (400 * 300)) < 1e-9


def test_cutout_that_kept_half_the_object_is_lost() -> None:
    photo_object = _box((400, 300), 60, 40, 240, 360)
    verdict, reasons = measure_cutout(_box((400, 300), 60, 40, 240, 180), photo_object).findings()
    assert verdict == "lost"
    assert any("kept only 44%" in reason for reason in reasons)


def test_cutout_that_kept_most_of_the_object_is_doubtful() -> None:
    photo_object = _box((400, 300), 60, 40, 240, 360)
    verdict, reasons = measure_cutout(_box((400, 300), 60, 40, 195, 360), photo_object).findings()
    assert verdict == "doubtful"
    assert any("kept 75%" in reason for reason in reasons)


def test_the_cutout_length_is_measured() -> None:
    """A dress cut out without its lower 15 %: the engine refuses it (it knows the kind; a
    pair of shoes may lose its shadow), so the measure records the share."""
    photo_object = _box((400, 300), 60, 40, 240, 360)
    assert measure_cutout(_box((400, 300), 60, 40, 240, 312), photo_object).length == 0.85
    assert measure_cutout(photo_object, photo_object).length == 1.0


def test_outline_of_trims_is_lost() -> None:
    outline = _box((400, 300), 60, 40, 240, 360) & ~_box((400, 300), 66, 46, 234, 354)
    measures = measure_cutout(outline, outline)
    assert measures.findings()[0] == "lost"
    assert measures.holes > 0.8  # the outline encloses what it left out


def test_scattered_trims_are_lost_but_a_pair_of_shoes_is_not() -> None:
    trims = _box((400, 300), 60, 40, 240, 50) | _box((400, 300), 60, 350, 240, 360)
    assert measure_cutout(trims, trims).findings()[0] == "lost"
    shoes = _box((300, 400), 40, 100, 180, 180) | _box((300, 400), 220, 100, 360, 180)
    assert measure_cutout(shoes, shoes).findings() == ("ok", [])


def test_cutout_touching_the_frame_is_doubtful() -> None:
    garment = _box((400, 300), 60, 40, 240, 400)
    verdict, reasons = measure_cutout(garment, garment).findings()
    assert verdict == "doubtful" and reasons == ["the garment is cut by the photo's frame"]


def test_placement_measures() -> None:
    shape = (200, 100)
    region = _box(shape, 30, 40, 70, 90)
    on_body = _box(shape, 20, 30, 80, 120)
    measures = measure_placement(on_body, on_body, region)
    assert measures.coverage == 1.0 and measures.findings() == ("ok", [])
    assert not measures.shows_through

    beside = _box(shape, 0, 0, 25, 40)  # drawn off the body
    lost = measure_placement(beside, beside, region)
    assert lost.coverage == 0.0 and lost.findings()[0] == "lost"

    jeans = _box(shape, 30, 120, 70, 190)  # the body's own trousers below a short dress
    showing = measure_placement(on_body, on_body, region, old_clothes=jeans & ~on_body)
    assert showing.shows_through and showing.findings()[0] == "doubtful"
    assert measure_placement(on_body, on_body, region, body_cut=True).findings()[0] == "doubtful"


def test_garment_score_caps_the_output_score() -> None:
    assert garment_score(["ok", "ok"]) == 1.0
    assert garment_score(["ok", "doubtful"]) == DOUBTFUL_SCORE
    assert garment_score(["doubtful", "lost"]) == LOST_SCORE
