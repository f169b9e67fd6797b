"""What leaves the server for one output, whatever engine made it: the image encoded as it will
be delivered, measured in that form (vestis.quality), scored, and warned about; and the identity
retries, which make an output again when its face is not the identity.

Measured in the delivered form because that is what the user gets: a JPEG is measured after
its encoding, so `unchanged_outside_head` counts what the encoding moved too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from vestis import quality
from vestis.engines.base import (
    AnySpec,
    EngineError,
    EngineOutput,
    FlatSpec,
    IdentitySpec,
    PackshotSpec,
    RecolorSpec,
    SwapSpec,
)
from vestis.quality import colour
from vestis.quality.garments import wire_summary
from vestis.quality.pixels import TOLERANCE
from vestis.quality.review import measured_warnings
from vestis.server.media import images

log = logging.getLogger("vestis.server.pipeline.delivery")

#: A layout preview never scores above this, and says what it is: nobody should publish it.
LAYOUT_PREVIEW_CAP = 0.3
LAYOUT_PREVIEW = (
    "layout preview, not a photo: the local engine dresses a drawn figure in the flat garments "
    "to show the layout; for a publishable on-model photo use a generative engine"
)

#: Seeds of the retries: far from the request's own seed and from each other.
_RETRY_SEED_STEP = 7919


@dataclass
class Delivery:
    """One output ready to store: its bytes, and what the result says about it."""

    data: bytes
    image: Image.Image  # as delivered (decoded from `data`)
    model_used: str
    quality_score: float
    warnings: list[str]
    metrics: dict[str, Any]
    face_embedding: list[float] | None
    measures: quality.OutputMeasures
    #: As the engine (chain) said: who made it, upstream work and cost, garment lock share.
    engine: str | None = None
    upstream_id: str | None = None
    upstream_credits: float | None = None
    garment_locked_share: float | None = None


def deliver(spec: AnySpec, made: EngineOutput, fmt: str) -> Delivery:
    """Encode `made` as delivered (a model swap from a JPEG keeps the source's JPEG settings),
    then measure and score it."""
    if isinstance(spec, (PackshotSpec, RecolorSpec, IdentitySpec)):
        return _deliver_product(spec, made, fmt)
    source = spec.target if isinstance(spec, SwapSpec) else None
    data = images.encode(made.image, fmt, like=source)
    delivered = made.image.convert("RGB") if fmt == "png" else _decode(data)
    measures = _measure(spec, delivered)
    warnings = [*made.warnings, *measured_warnings(measures)]
    face = measures.signature
    metrics: dict[str, Any] = {**measures.as_dict(), "attempts": 1}
    garments = wire_summary(made.metadata.get("garments"))
    if isinstance(spec, FlatSpec) and garments is not None:
        metrics["garments"] = garments  # the engine's own measures (its score already caps)
    score = quality.quality_score(measures, made.quality_score)
    if _layout_preview(made, measures):
        warnings.append(LAYOUT_PREVIEW)
        score = min(score, LAYOUT_PREVIEW_CAP)
    return Delivery(
        data=data,
        image=delivered,
        model_used=made.model_used,
        quality_score=score,
        warnings=warnings,
        metrics=metrics,
        face_embedding=[round(float(v), 6) for v in face.embedding] if face else None,
        measures=measures,
        engine=made.engine,
        upstream_id=made.upstream_id,
        upstream_credits=made.upstream_credits,
        garment_locked_share=made.garment_locked_share,
    )


def _layout_preview(made: EngineOutput, measures: quality.OutputMeasures) -> bool:
    """An engine that says its output is a layout preview (the local flat-to-model: flat
    garments on a drawn body) is believed unless the realism measure passes the output."""
    passed = measures.realism is not None and measures.realism.ok
    return bool(made.metadata.get("layout_preview")) and not passed


def _deliver_product(
    spec: PackshotSpec | RecolorSpec | IdentitySpec, made: EngineOutput, fmt: str
) -> Delivery:
    """A packshot, a recolour or a draft identity: no face to compare with; a recolour is
    measured in the delivered file against the colour the engine aimed at, within the garment
    mask it used."""
    source = spec.image if isinstance(spec, RecolorSpec) else None
    data = images.encode(made.image, fmt, like=source)
    delivered = made.image.convert("RGB") if fmt == "png" else _decode(data)
    metrics: dict[str, Any] = {"attempts": 1}
    if isinstance(spec, PackshotSpec) and "garment_whole" in made.metadata:
        metrics["garment_whole"] = bool(made.metadata["garment_whole"])
    mask, target = made.metadata.get("garment_mask"), made.metadata.get("target")
    if isinstance(spec, RecolorSpec) and mask is not None and target is not None:
        original = np.asarray(spec.image.convert("RGB"))
        got = np.asarray(delivered)
        if got.shape == original.shape:
            measured = colour.measure_recolour(original, got, mask, tuple(target), TOLERANCE)
            metrics.update(measured.as_dict())
            metrics.pop("garment_share", None)
        metrics["target_colour"] = colour.hex_code(tuple(target))
    kind = (
        "create_packshot"
        if isinstance(spec, PackshotSpec)
        else "identity_creation"
        if isinstance(spec, IdentitySpec)
        else "garment_recolor"
    )
    return Delivery(
        data=data,
        image=delivered,
        model_used=made.model_used,
        quality_score=round(float(made.quality_score), 4),
        warnings=list(made.warnings),
        metrics=metrics,
        face_embedding=None,
        measures=quality.OutputMeasures(kind=kind, face_found=False),
        engine=made.engine,
        upstream_id=made.upstream_id,
        upstream_credits=made.upstream_credits,
    )


def _measure(spec: SwapSpec | FlatSpec, delivered: Image.Image) -> quality.OutputMeasures:
    if isinstance(spec, SwapSpec):
        return quality.measure_swap(spec.target, spec.identity, delivered)
    return quality.measure_flat(spec.identity, delivered)


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def retry_seed(seed: int, attempt: int) -> int:
    """The seed of retry number `attempt` (1, 2, ...) of an output whose seed is `seed`."""
    return (seed + attempt * _RETRY_SEED_STEP) & 0x7FFFFFFF


def make(
    engine_call: Callable[[AnySpec], EngineOutput],
    spec: AnySpec,
    fmt: str,
    retries: int,
) -> Delivery:
    """Make one output with `engine_call` and deliver it; while its face is not the identity,
    make it again with another seed, up to `retries` more times, and keep the best (the identity
    first, then the highest score). If none is the identity, the best is delivered with a
    warning that says so. An `EngineError` on the first try is the output's error; on a retry
    it ends the retries (the best so far is kept)."""
    made = engine_call(spec)
    seen = {_digest(made.image)}  # the engine's own image: an encoding may hide a difference
    best = deliver(spec, made, fmt)
    attempts = 1
    for attempt in range(1, retries + 1):
        if best.measures.is_identity is not False:
            break
        try:
            made = engine_call(_reseeded(spec, attempt))
        except EngineError as exc:
            log.info("identity retry %d failed: %s", attempt, exc)
            break
        attempts += 1
        digest = _digest(made.image)
        if digest in seen:
            break  # the engine ignores the seed: more tries would make the same image
        seen.add(digest)
        again = deliver(spec, made, fmt)
        if _rank(again) > _rank(best):
            best = again
    best.metrics["attempts"] = attempts
    note = quality.identity_warning(best.measures)
    if attempts > 1 and note is not None:
        told = (
            f"{note}; made {attempts} times with different seeds and none was the identity: "
            "delivered the closest"
        )
        best.warnings = [told if warning == note else warning for warning in best.warnings]
    return best


def _reseeded(spec: AnySpec, attempt: int) -> AnySpec:
    if isinstance(spec, SwapSpec):
        return dataclasses.replace(spec, seed=retry_seed(spec.seed, attempt), retry=attempt)
    return dataclasses.replace(spec, seed=retry_seed(spec.seed, attempt))


def _rank(delivery: Delivery) -> tuple[bool, float]:
    return (delivery.measures.is_identity is not False, delivery.quality_score)


def _digest(image: Image.Image) -> str:
    return hashlib.blake2b(image.convert("RGB").tobytes(), digest_size=16).hexdigest()
