"""Which of an identity's photos to swap onto one target photo.

An identity may hold several photos of one person (a grin and a neutral face, frontal and
three-quarter). A face swap carries the identity's expression and what is on its face: a grin
pasted onto a closed mouth, a beard onto a clean-shaven model, frames, a half-hidden turned
face. So per target photo the photo is chosen that

1. trips none of the rules a face swap cannot render (`refusals`: the rules the local engine
   refuses by, with its thresholds), then
2. is closest to the target in mouth state and head pose (`distance`).

Engine-independent: the server chooses before any engine is called; the engine is given one
image as before. With one photo there is nothing to choose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from vestis.quality.face_traits import FaceTraits, traits_at, wears_glasses
from vestis.quality.faces import rgb_array
from vestis.quality.identity_photo import face_boxes

#: A larger photo is measured scaled down to this long edge (the traits are scale-free).
_LONG_EDGE = 2048

# What a face swap cannot render (face_traits' scales; glasses by face_traits.wears_glasses).
# The local engine refuses by these very figures (engines.local.engine imports them), so the
# choice avoids the photos the engine would refuse.
#: Head turn of the identity photo: three-quarter heads 0.3-0.5, profiles 0.6 and more.
IDENTITY_YAW_AT_MOST = 0.42
#: Facial hair: bearded and stubbled identities score 10-20, clean faces 0-7.
FACIAL_HAIR_AT = 10.0
CLEAN_AT = 8.0
#: Mouth open (inner-lip gap over mouth width): a grin with teeth 0.18-0.25, closed 0-0.05.
GRIN_AT = 0.16
CLOSED_BELOW = 0.1
#: Or a wide smile (mouth width over eye-corner distance; neutral 0.5-0.6, smiles 0.7-0.8)
#: that shows teeth (a tenth of the mouth opening bright and colourless).
WIDE_SMILE_AT, TEETH_AT = 0.68, 0.1

#: How far apart two faces are for the choice, per unit of each trait: a mouth open by a tenth
#: of its width, teeth over a fifth of the opening, a smile a tenth of the eye distance wider,
#: a head turned a fifth of the way to profile, 10 degrees of tilt each count as one.
_SCALES = {"mouth_open": 0.1, "teeth": 0.2, "smile": 0.1, "yaw": 0.2, "roll": 10.0}


def measure(image: Image.Image | np.ndarray[Any, Any]) -> FaceTraits | None:
    """The traits of the largest face in `image` (face_traits), None when no face is found."""
    rgb = rgb_array(image)
    factor = min(1.0, _LONG_EDGE / max(rgb.shape[:2]))
    if factor < 1.0:
        size = (max(int(rgb.shape[1] * factor), 1), max(int(rgb.shape[0] * factor), 1))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    boxes = face_boxes(rgb)
    if not boxes:
        return None
    found = traits_at(rgb, boxes[0][0])
    return None if found is None else found[0]


def from_dict(stored: dict[str, Any] | None) -> FaceTraits | None:
    """Traits stored as `FaceTraits.as_dict()`; None when missing or from another version of
    the traits (a field missing): measure the photo again then."""
    if not stored:
        return None
    names = [f.name for f in dataclasses.fields(FaceTraits)]
    if any(name not in stored for name in names):
        return None
    return FaceTraits(**{name: float(stored[name]) for name in names})


def grins(face: FaceTraits) -> bool:
    return face.mouth_open >= GRIN_AT or (face.teeth >= TEETH_AT and face.smile >= WIDE_SMILE_AT)


def refusals(target: FaceTraits, identity: FaceTraits) -> list[str]:
    """The rules the pair trips (empty: a swap can render it): `glasses`, `turned_head`,
    `beard_onto_clean_shaven`, `grin_onto_closed_mouth`."""
    found = []
    if wears_glasses(identity):
        found.append("glasses")
    if abs(identity.yaw) > IDENTITY_YAW_AT_MOST:
        found.append("turned_head")
    if identity.facial_hair >= FACIAL_HAIR_AT and target.facial_hair < CLEAN_AT:
        found.append("beard_onto_clean_shaven")
    if grins(identity) and target.mouth_open < CLOSED_BELOW:
        found.append("grin_onto_closed_mouth")
    return found


def distance(target: FaceTraits, identity: FaceTraits) -> float:
    """How far the identity's mouth state and head pose are from the target's (0: the same)."""
    return float(
        sum(abs(getattr(target, k) - getattr(identity, k)) / s for k, s in _SCALES.items())
    )


@dataclass(frozen=True)
class Choice:
    index: int  # of the photo chosen
    refused: list[str]  # the rules the chosen photo still trips (all photos trip some)
    distance: float | None  # None: not measured (no face in the target or the photo)


def choose(target: FaceTraits | None, photos: Sequence[FaceTraits | None]) -> Choice:
    """The photo to swap onto a target whose traits are `target`: the first photo that trips
    no rule, closest in mouth and pose; photos whose face was not measured come last. With no
    face in the target, or one photo, the first photo."""
    if target is None or len(photos) <= 1:
        return Choice(0, [], None)
    ranked: list[tuple[int, float, int, list[str]]] = []
    for index, face in enumerate(photos):
        if face is None:
            ranked.append((2, float("inf"), index, []))
            continue
        refused = refusals(target, face)
        ranked.append((1 if refused else 0, distance(target, face), index, refused))
    _, far, index, refused = min(ranked, key=lambda r: (r[0], r[1], r[2]))
    return Choice(index, refused, None if far == float("inf") else round(far, 4))
