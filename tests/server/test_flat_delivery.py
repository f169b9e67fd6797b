"""A flat-to-model output is delivered with its garments' measures in `metrics.garments`, and
the engine's low score for a doubtful garment is the delivered score."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from vestis.contract import OutputMetrics
from vestis.engines.base import FlatGarment, FlatSpec
from vestis.engines.local import LocalEngine
from vestis.quality.garments import DOUBTFUL_SCORE, wire_summary
from vestis.quality.review import review_reasons
from vestis.runs import samples
from vestis.server.pipeline import delivery


def _spec(garment: Image.Image, name: str) -> FlatSpec:
    identity = samples.make_identity_image()
    return FlatSpec([FlatGarment(garment, name)], identity, width=384, height=512, seed=2)


def test_garment_measures_in_the_metrics() -> None:
    spec = _spec(samples.make_flat_lay("dress", (36, 110, 90)), "dress.jpg")
    made = LocalEngine().flat_to_model(spec)
    delivered = delivery.deliver(spec, made, "jpg")
    metrics = OutputMetrics.model_validate(delivered.metrics)
    assert metrics.garments is not None and len(metrics.garments) == 1
    garment = metrics.garments[0]
    assert (garment.name, garment.kind, garment.verdict) == ("dress.jpg", "dress", "ok")
    assert garment.cutout_kept is not None and garment.cutout_kept > 0.85
    assert garment.coverage is not None and garment.coverage > 0.9
    assert garment.old_clothes == 0.0


def test_a_local_flat_to_model_output_is_a_layout_preview() -> None:
    """Flat garments on a drawn body: said to be a layout preview, scored at most 0.3, flagged
    for review; an engine that does not call its output a preview is not capped."""
    spec = _spec(samples.make_flat_lay("dress", (36, 110, 90)), "dress.jpg")
    made = LocalEngine().flat_to_model(spec)
    assert made.quality_score is not None and made.quality_score > delivery.LAYOUT_PREVIEW_CAP
    delivered = delivery.deliver(spec, made, "jpg")
    assert delivered.quality_score <= delivery.LAYOUT_PREVIEW_CAP
    assert delivery.LAYOUT_PREVIEW in delivered.warnings
    reasons = review_reasons(delivered.metrics, delivered.warnings, delivered.quality_score)
    assert any(r.startswith("layout preview, not a photo") for r in reasons)
    other = dataclasses.replace(made, metadata={**made.metadata, "layout_preview": False})
    assert delivery.LAYOUT_PREVIEW not in delivery.deliver(spec, other, "jpg").warnings


def test_a_doubtful_garment_is_delivered_with_a_low_score() -> None:
    top = np.asarray(samples.make_flat_lay("top", (196, 52, 60)))
    spec = _spec(Image.fromarray(top[:560]), "top.jpg")  # its hem cut off by the frame
    delivered = delivery.deliver(spec, LocalEngine().flat_to_model(spec), "jpg")
    assert delivered.metrics["garments"][0]["verdict"] == "doubtful"
    assert delivered.quality_score <= DOUBTFUL_SCORE
    assert any("may not be the whole garment" in w for w in delivered.warnings)


def test_engines_that_do_not_measure_garments_report_none() -> None:
    assert wire_summary(None) is None
    assert wire_summary([]) is None
    assert wire_summary([{"name": "a.jpg"}]) == [
        {"name": "a.jpg", "kind": None, "verdict": "ok", "reasons": [], "cutout_kept": None,
         "coverage": None, "old_clothes": None}
    ]  # fmt: skip
