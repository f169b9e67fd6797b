"""The measures of one output, whatever engine made it, and the quality score made from them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from vestis.quality.faces import (
    SAME_PERSON,
    FaceSignature,
    face_distance,
    face_signature,
    rgb_array,
)
from vestis.quality.pixels import head_region, sharpness_ratio, unchanged_share
from vestis.quality.realism import RealismReport, identity_wears_glasses, measure_realism


@dataclass
class OutputMeasures:
    """What the measures saw in one output. None = could not be measured (see `note`)."""

    kind: str  # "model_swap" or "flat_to_model"
    face_found: bool
    identity_distance: float | None = None  # output face -> identity face
    original_distance: float | None = None  # output face -> the target's face (model swap)
    unchanged_outside_head: float | None = None  # share of pixels outside the head within +-3
    sharpness_ratio: float | None = None  # inner face, output / target (model swap)
    note: str | None = None  # why something could not be measured
    signature: FaceSignature | None = None  # the output's face (for the job's consistency)
    region: tuple[int, int, int, int] | None = None  # the head region (model swap)
    #: Does the new face look like a photo (model swap)? None: not measured (no face).
    realism: RealismReport | None = None

    @property
    def is_identity(self) -> bool | None:
        """True: the output's face is the identity; False: it is not, or the face was lost;
        None: nothing to compare (no face in the identity image, or in the target or, for
        flat-to-model, no face shown)."""
        if self.identity_distance is not None:
            # A face still within reach of the photo's own model has not left it, whatever
            # the identity distance says.
            left = self.original_distance is None or self.original_distance > SAME_PERSON
            return self.identity_distance < SAME_PERSON and left
        if self.kind == "model_swap" and not self.face_found and self.note == FACE_LOST:
            return False
        return None

    def as_dict(self) -> dict[str, Any]:
        """The wire `metrics` object (rounded); the server adds what it knows (attempts)."""
        return {
            "face_found": self.face_found,
            "identity_distance": _round(self.identity_distance),
            "original_distance": _round(self.original_distance),
            "is_identity": self.is_identity,
            "unchanged_outside_head": _round(self.unchanged_outside_head, 6),
            "sharpness_ratio": _round(self.sharpness_ratio),
            "realism": None if self.realism is None else self.realism.as_dict(),
        }


FACE_LOST = "no face found in the output where the target has one"
NO_IDENTITY_FACE = "no face found in the identity image"
NO_TARGET_FACE = "no face found in the target photo"
NO_FACE_SHOWN = "no face shown in the output"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def measure_swap(
    target: Image.Image | np.ndarray,
    identity: Image.Image | np.ndarray,
    output: Image.Image | np.ndarray,
) -> OutputMeasures:
    """Measure one model-swap output against its target photo and identity image."""
    target_rgb, output_rgb = rgb_array(target), rgb_array(output)
    identity_face = face_signature(identity)
    target_face = face_signature(target_rgb)
    if target_face is None:
        # No head to leave out: every pixel should be as it was.
        return OutputMeasures(
            kind="model_swap",
            face_found=face_signature(output_rgb) is not None,
            unchanged_outside_head=unchanged_share(output_rgb, target_rgb, None),
            note=NO_TARGET_FACE,
        )
    size = (target_rgb.shape[1], target_rgb.shape[0])
    region = head_region(target_face.box, size)
    face = face_signature(output_rgb, near=target_face)
    measures = OutputMeasures(
        kind="model_swap",
        face_found=face is not None,
        unchanged_outside_head=unchanged_share(output_rgb, target_rgb, region),
        sharpness_ratio=sharpness_ratio(output_rgb, target_rgb, target_face.box),
        signature=face,
        region=region,
    )
    if face is None:
        measures.note = FACE_LOST
        return measures
    measures.original_distance = face_distance(face, target_face)
    glasses = identity_face is not None and identity_wears_glasses(
        rgb_array(identity), identity_face.box
    )
    measures.realism = measure_realism(target_rgb, output_rgb, target_face.box, glasses)
    if identity_face is None:
        measures.note = NO_IDENTITY_FACE
    else:
        measures.identity_distance = face_distance(face, identity_face)
    return measures


def measure_flat(
    identity: Image.Image | np.ndarray, output: Image.Image | np.ndarray
) -> OutputMeasures:
    """Measure one flat-to-model output: is the face it shows (if any) the identity?"""
    face = face_signature(output)
    measures = OutputMeasures(kind="flat_to_model", face_found=face is not None, signature=face)
    if face is None:
        measures.note = NO_FACE_SHOWN
        return measures
    identity_face = face_signature(identity)
    if identity_face is None:
        measures.note = NO_IDENTITY_FACE
    else:
        measures.identity_distance = face_distance(face, identity_face)
    return measures


def consistency(faces: list[FaceSignature | None]) -> float | None:
    """The largest distance between two outputs' faces (outputs of one identity should all be
    the same person: below SAME_PERSON); None with fewer than two faces."""
    return embedding_consistency([face.embedding for face in faces if face is not None])


def embedding_consistency(embeddings: list[Sequence[float] | np.ndarray | None]) -> float | None:
    """`consistency` from stored embeddings (None entries are outputs without a face)."""
    found = [np.asarray(e, dtype=np.float64) for e in embeddings if e is not None]
    if len(found) < 2:
        return None
    return max(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(found, 2))


# --- the score ----------------------------------------------------------------------------------

#: Identity term: 1 at or below this distance, falling linearly to 0 at `_ID_ZERO`.
_ID_FULL, _ID_ZERO = 0.375, 0.75
#: Garment term: 0 at or below this share of unchanged pixels outside the head, 1 at `_KEPT_FULL`.
_KEPT_ZERO, _KEPT_FULL = 0.90, 0.99
#: Sharpness term: full when the face is at least this sharp relative to the photo (either way).
_SHARP_FULL = 0.7
#: An output with a realism defect scores at most this: a face a person would not publish.
REALISM_CAP = 0.5


def identity_term(measures: OutputMeasures) -> float:
    """How sure the measure is that the face is the identity, in [0, 1]: 1 at a distance of
    0.375 or less, 0.4 at the same-person threshold (0.6), 0 at 0.75 or more and when a model
    swap lost the face; 0.5 when a model swap's face could not be compared; 1 for a
    flat-to-model output that shows no face (there was none to get wrong)."""
    if measures.identity_distance is not None:
        d = measures.identity_distance
        return float(np.clip((_ID_ZERO - d) / (_ID_ZERO - _ID_FULL), 0.0, 1.0))
    if measures.is_identity is False:
        return 0.0
    return 0.5 if measures.kind == "model_swap" else 1.0


def quality_score(measures: OutputMeasures, engine_score: float | None = None) -> float:
    """The output's quality score in [0, 1]:

        identity x (0.5 + 0.25 x garments kept + 0.25 x sharpness), at most the engine's own score

    - identity: `identity_term` (an output that is not the identity scores at most 0.4);
    - garments kept (model swap): 0 when 90 % or less of the pixels outside the head are within
      +-3 of the photo, 1 from 99 %; 1 for flat-to-model (nothing to keep);
    - sharpness (model swap): the inner face's sharpness relative to the photo's, sharper or
      blurrier, full from 0.7 (0.7 to 1/0.7); 1 when it cannot be measured or for flat-to-model;
    - the engine's own score can lower the result (it may know of a problem the measures do not
      see, e.g. a garment lost in the cut-out) but never raise it.
    """
    kept = 1.0
    if measures.unchanged_outside_head is not None and measures.kind == "model_swap":
        kept = (measures.unchanged_outside_head - _KEPT_ZERO) / (_KEPT_FULL - _KEPT_ZERO)
    sharp = 1.0
    ratio = measures.sharpness_ratio
    if ratio is not None:
        sharp = min(ratio, 1.0 / ratio) / _SHARP_FULL if ratio > 0 else 0.0
    score = identity_term(measures) * (
        0.5 + 0.25 * float(np.clip(kept, 0, 1)) + 0.25 * float(np.clip(sharp, 0, 1))
    )
    if engine_score is not None:
        score = min(score, float(engine_score))
    if measures.realism is not None and not measures.realism.ok:
        score = min(score, REALISM_CAP)
    return round(float(np.clip(score, 0.0, 1.0)), 4)


def identity_warning(measures: OutputMeasures) -> str | None:
    """The sentence a user sees when the output is not the identity; None when it is (or when
    there is nothing to compare)."""
    if measures.is_identity is not False:
        return None
    if measures.identity_distance is None:
        return "not the identity: no face found in the output where the target photo has one"
    original = measures.original_distance
    if measures.identity_distance < SAME_PERSON and original is not None:
        return (
            f"not the identity: the face is still {original:.2f} from the photo's own model "
            f"(a new person is more than {SAME_PERSON} from it)"
        )
    return (
        f"not the identity: the face is {measures.identity_distance:.2f} from the identity's "
        f"(the same person is below {SAME_PERSON})"
    )
