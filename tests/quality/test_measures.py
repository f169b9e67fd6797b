"""The measures of one output and the score made from them, on outputs made by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from vestis.quality import (
    SAME_PERSON,
    OutputMeasures,
    consistency,
    face_signature,
    head_region,
    identity_warning,
    measure_flat,
    measure_swap,
    quality_score,
    sharpness_ratio,
    unchanged_share,
)
from vestis.runs.samples import make_identity_image


def _paste_face(target: Image.Image, donor: Image.Image) -> Image.Image:
    """A crude swap: the donor's face box scaled onto the target's face box."""
    t, d = face_signature(target), face_signature(donor)
    assert t is not None and d is not None
    out = target.copy()
    pad_t = (t.box[2] - t.box[0]) // 6
    region = (t.box[0] - pad_t, t.box[1] - pad_t, t.box[2] + pad_t, t.box[3] + pad_t)
    pad_d = (d.box[2] - d.box[0]) // 6
    face = donor.crop((d.box[0] - pad_d, d.box[1] - pad_d, d.box[2] + pad_d, d.box[3] + pad_d))
    out.paste(face.resize((region[2] - region[0], region[3] - region[1])), region[:2])
    return out


def test_an_unchanged_target_is_not_the_identity(pdp_photo: Image.Image, hopper: Image.Image):
    measures = measure_swap(pdp_photo, hopper, pdp_photo)
    assert measures.face_found
    assert measures.original_distance == pytest.approx(0.0, abs=1e-6)
    assert measures.identity_distance is not None and measures.identity_distance > SAME_PERSON
    assert measures.is_identity is False
    assert measures.unchanged_outside_head == 1.0
    assert measures.sharpness_ratio == pytest.approx(1.0)
    assert quality_score(measures) <= 0.4
    warning = identity_warning(measures)
    assert warning is not None and "not the identity" in warning


def test_the_identity_pasted_on_is_the_identity(pdp_photo: Image.Image, hopper: Image.Image):
    output = _paste_face(pdp_photo, hopper)
    measures = measure_swap(pdp_photo, hopper, output)
    assert measures.is_identity is True
    assert measures.original_distance is not None and measures.original_distance > SAME_PERSON
    assert measures.unchanged_outside_head == 1.0  # the paste stayed inside the head
    assert quality_score(measures) > quality_score(measure_swap(pdp_photo, hopper, pdp_photo))
    assert identity_warning(measures) is None
    assert measures.as_dict()["is_identity"] is True


def test_a_face_painted_over_is_a_lost_face(pdp_photo: Image.Image, hopper: Image.Image):
    target = face_signature(pdp_photo)
    assert target is not None
    output = pdp_photo.copy()
    ImageDraw.Draw(output).rectangle(target.box, fill=(200, 120, 120))
    measures = measure_swap(pdp_photo, hopper, output)
    assert not measures.face_found
    assert measures.is_identity is False
    assert quality_score(measures) == 0.0
    assert "no face found in the output" in (identity_warning(measures) or "")


def test_garment_pixels_changed_outside_the_head_are_counted(pdp_photo: Image.Image):
    target = np.asarray(pdp_photo).copy()
    face = face_signature(pdp_photo)
    assert face is not None
    region = head_region(face.box, pdp_photo.size)
    out = target.copy()
    out[region[1] : region[3], region[0] : region[2]] = 0  # inside the head: not counted
    assert unchanged_share(out, target, region) == 1.0
    out[-100:, :] = np.clip(out[-100:, :].astype(int) + 3, 0, 255)  # +3: within tolerance
    assert unchanged_share(out, target, region) == 1.0
    out[-100:, :] = np.clip(target[-100:, :].astype(int) + 8, 0, 255)  # the trousers' hem
    assert region[3] < target.shape[0] - 100
    hem = np.abs(out[-100:].astype(int) - target[-100:].astype(int)).max(axis=2)
    changed = int((hem > 3).sum())
    outside = target.shape[0] * target.shape[1]
    outside -= (region[2] - region[0]) * (region[3] - region[1])
    assert changed > 0
    assert unchanged_share(out, target, region) == pytest.approx(1 - changed / outside)


def test_a_blurred_face_has_a_low_sharpness_ratio(astronaut: Image.Image):
    face = face_signature(astronaut)
    assert face is not None
    blurred = astronaut.copy()
    blurred.paste(astronaut.crop(face.box).filter(ImageFilter.GaussianBlur(3)), face.box[:2])
    ratio = sharpness_ratio(np.asarray(blurred), np.asarray(astronaut), face.box)
    assert ratio is not None and ratio < 0.5
    measures = measure_swap(astronaut, make_identity_image(), blurred)
    assert measures.sharpness_ratio is not None and measures.sharpness_ratio < 0.5
    sharp = measure_swap(astronaut, make_identity_image(), astronaut)
    assert quality_score(measures) < quality_score(sharp)


def test_flat_to_model_measures_the_face_it_shows(astronaut: Image.Image, hopper: Image.Image):
    canvas = Image.new("RGB", (600, 800), (240, 240, 240))
    canvas.paste(hopper.resize((256, 300)), (172, 20))
    shown = measure_flat(hopper, canvas)
    assert shown.face_found and shown.is_identity is True
    assert shown.unchanged_outside_head is None and shown.sharpness_ratio is None
    other = measure_flat(astronaut, canvas)
    assert other.is_identity is False and quality_score(other) <= 0.4
    faceless = measure_flat(hopper, Image.new("RGB", (600, 800), (240, 240, 240)))
    assert not faceless.face_found and faceless.is_identity is None
    assert quality_score(faceless, engine_score=0.8) == 0.8


def test_consistency_is_the_largest_distance_between_outputs(
    astronaut: Image.Image, hopper: Image.Image
):
    a, a_flip = face_signature(astronaut), face_signature(astronaut.transpose(0))
    h = face_signature(hopper)
    assert a is not None and a_flip is not None and h is not None
    assert consistency([a]) is None
    assert consistency([a, None]) is None
    same = consistency([a, a_flip])
    assert same is not None and same < SAME_PERSON
    mixed = consistency([a, a_flip, h, None])
    assert mixed is not None and mixed > SAME_PERSON
    assert mixed == max(
        float(np.linalg.norm(x.embedding - y.embedding))
        for x, y in itertools.combinations([a, a_flip, h], 2)
    )


def test_an_output_that_is_not_the_identity_never_scores_high():
    """Whatever the other measures say, a distance at or above the threshold caps the score."""
    for d, kept, ratio in itertools.product(
        np.linspace(SAME_PERSON, 1.2, 7), (None, 0.5, 0.95, 1.0), (None, 0.3, 1.0, 3.0)
    ):
        measures = OutputMeasures(
            kind="model_swap",
            face_found=True,
            identity_distance=float(d),
            unchanged_outside_head=kept,
            sharpness_ratio=ratio,
        )
        assert measures.is_identity is False
        assert quality_score(measures) <= 0.4
        assert quality_score(measures, engine_score=1.0) <= 0.4
    good = OutputMeasures(
        kind="model_swap",
        face_found=True,
        identity_distance=0.35,
        unchanged_outside_head=1.0,
        sharpness_ratio=1.0,
    )
    assert quality_score(good) == 1.0
    assert quality_score(good, engine_score=0.3) == 0.3  # the engine may lower, never raise
