"""Model swap through LocalEngine on images derived from skimage's astronaut."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vestis.engines.base import Engine, EngineError, SwapSpec
from vestis.engines.local import LocalEngine
from vestis.runs import samples


def _arr(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(np.int16)


@pytest.fixture(scope="module")
def swapped(engine: LocalEngine, pdp: Image.Image, identity: Image.Image):
    return engine.model_swap(SwapSpec(target=pdp, identity=identity, seed=7))


def test_engine_protocol(engine: LocalEngine) -> None:
    assert isinstance(engine, Engine)
    assert engine.name == "local" and engine.model_used == "local"


def test_face_changes_and_everything_outside_the_head_is_identical(swapped, pdp) -> None:
    before, after = _arr(pdp), _arr(swapped.image)
    assert swapped.image.size == pdp.size and swapped.model_used == "local"
    x0, y0, x1, y1 = swapped.metadata["changed_region_bbox"]
    outside = np.ones(before.shape[:2], dtype=bool)
    outside[y0:y1, x0:x1] = False
    assert (before[outside] == after[outside]).all()  # garments preserved exactly
    assert np.abs(before - after)[y0:y1, x0:x1].mean() > 2.0  # the face did change
    # The head region is a small part of the photo, around the face.
    assert (x1 - x0) * (y1 - y0) < 0.25 * before.shape[0] * before.shape[1]
    assert swapped.metadata["unchanged_outside_head_share"] == 1.0
    assert 0.0 < swapped.quality_score <= 1.0


def test_same_seed_same_output_and_variations_differ(engine, pdp, identity, swapped) -> None:
    again = engine.model_swap(SwapSpec(target=pdp, identity=identity, seed=7))
    assert (_arr(again.image) == _arr(swapped.image)).all()
    other = engine.model_swap(SwapSpec(target=pdp, identity=identity, seed=7, variation=1))
    x0, y0, x1, y1 = swapped.metadata["changed_region_bbox"]
    diff = np.abs(_arr(other.image) - _arr(swapped.image))[y0:y1, x0:x1]
    assert diff.mean() > 1.0
    other_again = engine.model_swap(SwapSpec(target=pdp, identity=identity, seed=7, variation=1))
    assert (_arr(other_again.image) == _arr(other.image)).all()


def test_post_process_changes_skin_pixels_only(engine, pdp, identity, swapped) -> None:
    from vestis.engines.local.faces import find_face
    from vestis.engines.local.skin import skin_weight

    target = pdp.copy()
    # A patch of the model's own cheek pasted onto the chest stands in for a bare arm.
    cheek = target.crop((215, 150, 245, 175)).resize((60, 50))
    target.paste(cheek, (300, 300))
    base = engine.model_swap(SwapSpec(target=target, identity=identity, seed=7))
    post = engine.model_swap(SwapSpec(target=target, identity=identity, seed=7, post_process=True))
    changed = (_arr(base.image) != _arr(post.image)).any(axis=2)
    rgb = np.asarray(target.convert("RGB"))
    head = np.zeros(changed.shape, dtype=bool)
    x0, y0, x1, y1 = base.metadata["changed_region_bbox"]
    head[y0:y1, x0:x1] = True
    weight = skin_weight(rgb, find_face(rgb))
    assert changed.any() and changed[300:350, 300:360].mean() > 0.5
    assert not changed[(weight == 0) & ~head].any()  # nothing but skin
    assert not changed[500:, :].any()  # trousers and studio floor untouched
    assert post.metadata["skin_pixels_equalised"] > 0


def test_no_face_in_target_fails_that_output(engine, identity) -> None:
    with pytest.raises(EngineError, match="No face found in the target photo"):
        engine.model_swap(SwapSpec(target=samples.make_faceless_image(), identity=identity, seed=1))


def test_faceless_identity(engine, pdp) -> None:
    faceless = samples.make_faceless_image()
    assert engine.detect_face(faceless).detected is False
    with pytest.raises(EngineError, match="identity"):
        engine.model_swap(SwapSpec(target=pdp, identity=faceless, seed=1))


def test_detect_face_on_identity(engine, identity) -> None:
    info = engine.detect_face(identity)
    assert info.detected and info.box is not None and info.confidence > 0
    left, top, right, bottom = info.box
    assert 0 <= left < right <= identity.width and 0 <= top < bottom <= identity.height


def test_watermark_only_in_bottom_right(engine, pdp, identity, swapped) -> None:
    marked = engine.model_swap(
        SwapSpec(target=pdp, identity=identity, seed=7, add_ai_watermark=True)
    )
    diff = (_arr(marked.image) != _arr(swapped.image)).any(axis=2)
    h, w = diff.shape
    assert diff[int(h * 0.8) :, int(w * 0.5) :].sum() > 200
    diff[int(h * 0.8) :, int(w * 0.5) :] = False
    assert not diff.any()


def test_generate_identity_is_refused(engine, pdp, identity) -> None:
    with pytest.raises(EngineError, match="face_reference"):
        engine.generate_identity(SwapSpec(target=pdp, identity=identity, seed=1, prompt="a model"))


def test_watermark_is_legible_text() -> None:
    from vestis.engines.local.watermark import add_ai_watermark

    plain = Image.new("RGB", (400, 300), (240, 240, 240))
    ImageDraw.Draw(plain).rectangle([0, 0, 50, 50], fill=(0, 0, 0))
    marked = np.asarray(add_ai_watermark(plain)).astype(int)
    corner = marked[240:, 250:]
    assert corner.min() < 120 and corner.max() > 200  # dark box with light letters


def test_concurrent_calls_match_sequential(engine, identity, monkeypatch) -> None:
    """Worker threads run the engine at once: each gets its own mediapipe models, and the
    results are the same as one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    from vestis.engines.local import faces

    specs = [
        SwapSpec(target=samples.make_pdp_photo(s), identity=identity, seed=s) for s in (1, 2, 3)
    ]
    monkeypatch.setattr(faces, "_face_cache", faces.ContentCache())  # real detection, not the cache
    with ThreadPoolExecutor(max_workers=3) as pool:
        concurrent = list(pool.map(engine.model_swap, specs))
    monkeypatch.setattr(faces, "_face_cache", faces.ContentCache())
    for spec, out in zip(specs, concurrent, strict=True):
        assert (_arr(engine.model_swap(spec).image) == _arr(out.image)).all()


def test_importing_the_engine_does_not_load_mediapipe() -> None:
    import subprocess
    import sys

    code = "import sys, vestis.engines.local; print('mediapipe' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def _mouth_and_surround_lightness(image: Image.Image) -> tuple[float, float]:
    """Mean Lab lightness inside the face mesh's inner-lip contour of `image`, and in a band of
    lips and skin around it (both found on `image` itself)."""
    import cv2

    from vestis.engines.local.faces import find_face
    from vestis.engines.local.swap import _INNER_LIPS

    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    face = find_face(rgb)
    assert face is not None
    lightness = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float64)
    mouth = np.zeros(lightness.shape, dtype=np.uint8)
    cv2.fillPoly(mouth, [np.round(face.landmarks[_INNER_LIPS]).astype(np.int32)], 1)

    def grown(radius: int) -> np.ndarray:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        return cv2.dilate(mouth, disc) > 0

    eye = face.eye_distance
    inside = cv2.erode(mouth, np.ones((3, 3), np.uint8)) > 0
    band = grown(int(eye * 0.25)) & ~grown(max(1, int(eye * 0.03)))
    assert inside.sum() > 30 and band.sum() > 300
    return float(lightness[inside].mean()), float(lightness[band].mean())


@pytest.mark.parametrize("variation", [0, 1])
def test_open_target_mouth_with_closed_identity_mouth_is_not_a_dark_hole(engine, variation) -> None:
    """The smiling astronaut (teeth showing) with Grace Hopper's closed mouth, as `vestis demo`
    shows it: the mouth opening must stay as light as the lips and skin around it, not become
    the identity's thin line between the lips stretched into a dark hollow."""
    target = samples.make_pdp_photo(1)
    inside, around = _mouth_and_surround_lightness(target)
    assert inside > around  # the target really shows its teeth
    out = engine.model_swap(
        SwapSpec(
            target=target,
            identity=samples.make_portrait_identity_image(),
            seed=1,
            variation=variation,
        )
    )
    inside, around = _mouth_and_surround_lightness(out.image)
    assert inside > around - 8.0


def _lightness(image: Image.Image) -> np.ndarray:
    import cv2

    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float64) * 100.0 / 255.0


def test_identity_wrinkles_come_through_softened(engine, pdp, identity) -> None:
    """Dark creases drawn on the identity's cheeks (an older identity's folds) show on the new
    face, but at well under their full depth: at full strength they look harsh on a smooth
    catalogue face."""
    from vestis.engines.local.faces import find_face

    face = find_face(np.ascontiguousarray(np.asarray(identity.convert("RGB"))))
    assert face is not None
    creased = identity.copy()
    width = max(2, int(face.eye_distance * 0.04))
    for a, b in ((50, 205), (280, 425), (117, 118), (346, 347)):  # cheek points of the mesh
        start, end = face.landmarks[a], face.landmarks[b]
        ImageDraw.Draw(creased).line(
            [(float(start[0]), float(start[1])), (float(end[0]), float(end[1]))],
            fill=(90, 60, 50),
            width=width,
        )
    drawn = _lightness(creased) - _lightness(identity)
    depth = float(np.median(drawn[drawn < -5.0]))  # how much darker the creases are drawn
    plain = engine.model_swap(SwapSpec(target=pdp, identity=identity, seed=1)).image
    out = engine.model_swap(SwapSpec(target=pdp, identity=creased, seed=1)).image
    change = np.sort((_lightness(out) - _lightness(plain)).ravel())
    darkest = float(change[:20].mean())
    assert darkest < -5.0  # the creases are the identity's: they do come through
    assert darkest > 0.45 * depth  # but softened
