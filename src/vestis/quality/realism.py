"""Realism: does the face of a model-swap output look like a photo of a person, in the photo's
own expression, light and grain? Named defects, each with a figure and a threshold.

The identity measure says whose face it is; this one says whether a person would publish it.
Every check compares the output's face with the original photo's face at the same place (a
swap keeps the head where it was): what the output shows that the photo did not (grey blotches,
frame lines, stubble, teeth, dark smears, doubled brows), and whether its expression and
sharpness are the photo's. A real photo measured as its own output has no defect.

Thresholds were set on graded outputs (benchmarks/realism/grades.csv: A/B/C by eye from zoomed
contact sheets), to flag unusable faces while real photos pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vestis.quality.face_traits import (
    INNER_LIPS,
    OUTER_LIPS,
    FaceTraits,
    _lab,
    _poly,
    normalised,
    skin_mask,
    traits_at,
    wears_glasses,
)
from vestis.quality.faces import Box
from vestis.quality.pixels import sharpness_ratio

#: The new face's sharpness relative to the photo's own face: outside this band it looks pasted
#: (crisper than a soft photo) or smeared.
SHARPNESS_BAND = (0.8, 1.25)
#: How much more of a trait the output may show than the photo (face_traits' scales).
GLASSES_GAINED = 2.5  # L* per pixel of frame-like edges
FRAMES_GAINED = 3.0  # L* per pixel across the nose bridge (faces without glasses: at most 2.8)
#: Lens outlines gained around the eyes (face_traits' `rims`): on the graded development set,
#: outputs of identities without glasses gain at most 2.6 (crisp eyes and lashes), those of
#: identities with glasses 1.2-6.7. When the identity wears glasses, a faint ring is enough:
#: it can only have come from its frames; otherwise only a ring no eye gives counts.
RIMS_GAINED, RIMS_GAINED_FROM_GLASSES = 4.0, 0.8
FACIAL_HAIR_GAINED = 5.0
#: The photo's own beard or moustache mostly gone: a swap that cannot draw a clean chin leaves
#: pieces of it (a warp over a moustache, a shadow where it was).
FACIAL_HAIR_LOST = 15.0
EYE_SHADOW_GAINED = 13.0  # L*
MARKS_GAINED = 0.02  # share of the skin
#: A patch: a place of the skin that lost this share of its chroma, or went this many L* darker,
#: beyond the face's overall change; and the share of the skin patches may cover.
GREYER, DARKER, PATCHES_AT_MOST = 0.6, 12.0, 0.025
#: Lips: a place departing this many L* from the lips' own change, and the share allowed.
LIP_DEPARTS, LIPS_AT_MOST = 12.0, 0.15
#: Expression: a mouth the photo kept closed (gap below CLOSED) must not open or show teeth.
CLOSED, OPENED, TEETH = 0.08, 0.14, 0.12
#: Eye openness of the output over the photo's, outside this band the gaze or blink changed.
EYES_BAND = (0.6, 1.6)


#: Each defect in a few words, the same for every output (the figures are in `metrics.realism`
#: and the review reason): outputs with the same defects are said once, grouped.
DEFECTS = {
    "broken_face": "the face is not found as a face",
    "doubled_features": "dark strokes on the forehead or cheeks (brow or frame pieces)",
    "expression": "the photo's expression changed (mouth or eyes)",
    "eye_region": "dark smears around the eyes",
    "facial_hair": "stubble or a moustache the photo has not, or pieces of the photo's",
    "glasses_fragments": "frame-like lines across the eyes and nose",
    "lips": "patchy lips",
    "sharpness": "not as sharp as the photo",
    "skin_blotch": "grey or dark patches on the skin",
}


@dataclass
class RealismReport:
    """What the realism checks saw. `ok` is True when no defect was found."""

    defects: list[str] = field(default_factory=list)
    figures: dict[str, float | None] = field(default_factory=dict)
    #: One sentence per defect, for a reviewer (same order as `defects`).
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.defects

    def add(self, name: str, reason: str) -> None:
        if name not in self.defects:
            self.defects.append(name)
            self.reasons.append(reason)

    def as_dict(self) -> dict[str, Any]:
        """The wire `metrics.realism` object."""
        figures = {k: (None if v is None else round(float(v), 4)) for k, v in self.figures.items()}
        return {"ok": self.ok, "defects": list(self.defects), **figures}

    def reason(self) -> str | None:
        """One line naming every defect with its figure, or None when there is none."""
        return "; ".join(self.reasons) if self.reasons else None

    def summary(self) -> str | None:
        """One line naming every defect in a few words, without figures, or None."""
        return "; ".join(DEFECTS.get(d, d) for d in self.defects) if self.defects else None


def measure_realism(
    original: np.ndarray, output: np.ndarray, face_box: Box, identity_glasses: bool = False
) -> RealismReport:
    """The realism checks of a model swap's `output` against its `original` photo, around the
    original's face (`face_box`, any detector's box in image pixels). Both uint8 RGB, the same
    size. `identity_glasses`: the identity wears glasses (`identity_wears_glasses`), so fainter
    lens outlines count as its frames come through."""
    report = RealismReport()
    _check_sharpness(report, sharpness_ratio(output, original, face_box))
    before = traits_at(original, face_box)
    after = traits_at(output, face_box) if before is not None else None
    if before is None:
        report.figures["face_mesh"] = None
        return report
    if after is None:
        report.add(
            "broken_face", "the output's face is not found as a face where the photo has one"
        )
        return report
    _check_traits(report, before[0], after[0], identity_glasses)
    _check_patches(report, original, output, before[1])
    return report


_IDENTITY_GLASSES: dict[str, bool] = {}


def identity_wears_glasses(identity: np.ndarray, face_box: Box) -> bool:
    """Whether the identity photo's face (in `face_box`) wears glasses, by the rule the engine
    and the identity photo check use; remembered by content (one identity, many outputs)."""
    key = hashlib.blake2b(identity.tobytes(), digest_size=16).hexdigest() + str(face_box)
    if key not in _IDENTITY_GLASSES:
        found = traits_at(identity, face_box)
        if len(_IDENTITY_GLASSES) > 256:
            _IDENTITY_GLASSES.clear()
        _IDENTITY_GLASSES[key] = found is not None and wears_glasses(found[0])
    return _IDENTITY_GLASSES[key]


def _check_patches(
    report: RealismReport, original: np.ndarray, output: np.ndarray, points: np.ndarray
) -> None:
    """Grey or dark patches: on the photo's face skin, each place's colour (a few px) against
    the photo's at the same place, after the face's overall change of tone (another skin tone is
    allowed, a patch of it is not)."""
    before, pts = normalised(original, points)
    after, _ = normalised(output, points)
    skin = (
        cv2.erode(skin_mask(before.shape[:2], pts).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    )
    if skin.sum() < 50:
        return
    lab_b = np.stack([cv2.GaussianBlur(c, (0, 0), 3) for c in cv2.split(_lab(before))], -1)
    lab_a = np.stack([cv2.GaussianBlur(c, (0, 0), 3) for c in cv2.split(_lab(after))], -1)
    shift = lab_a[..., 0] - lab_b[..., 0]
    shift -= float(np.median(shift[skin]))
    ratio = (np.hypot(lab_a[..., 1], lab_a[..., 2]) + 1.0) / (
        np.hypot(lab_b[..., 1], lab_b[..., 2]) + 1.0
    )
    ratio /= float(np.median(ratio[skin]))
    patches = (ratio < GREYER) | (shift < -DARKER)
    share = float(patches[skin].mean())
    report.figures["patches"] = share
    if share > PATCHES_AT_MOST:
        report.add(
            "skin_blotch",
            f"grey or dark patches over {share:.0%} of the new skin that the photo's skin has not",
        )
    outer = _poly(before.shape[:2], pts[OUTER_LIPS]).astype(np.uint8)
    rim = cv2.dilate(outer, np.ones((7, 7), np.uint8)) > 0
    lips = rim & ~_poly(before.shape[:2], pts[INNER_LIPS])
    if lips.sum() < 30:
        return
    # Lips and their rim, at a finer scale than the skin: paler or darker places than the
    # photo's had (a pale mouth with a dark outline, a smear of another mouth's colour); lips
    # may change tone as a whole.
    fine_b = cv2.GaussianBlur(_lab(before)[..., 0], (0, 0), 1.2)
    fine_a = cv2.GaussianBlur(_lab(after)[..., 0], (0, 0), 1.2)
    lip_shift = fine_a - fine_b
    lip_shift -= float(np.median(lip_shift[lips]))
    broken = (np.abs(lip_shift) > LIP_DEPARTS) | (ratio < GREYER)
    lip_share = float(broken[lips].mean())
    report.figures["lips_broken"] = lip_share
    if lip_share > LIPS_AT_MOST:
        report.add(
            "lips",
            f"the lips are patchy: {lip_share:.0%} of them paler or darker than the rest, "
            "unlike the photo's",
        )


def _check_sharpness(report: RealismReport, ratio: float | None) -> None:
    report.figures["sharpness_ratio"] = ratio
    low, high = SHARPNESS_BAND
    if ratio is not None and not (low <= ratio <= high):
        word = "crisper" if ratio > high else "softer"
        report.add(
            "sharpness",
            f"the new face is {word} than the photo ({ratio:.2f} of its sharpness; "
            f"{low}-{high} looks like one photo)",
        )


def _gain(report: RealismReport, name: str, before: float, after: float) -> float:
    gained = after - before
    report.figures[name] = gained
    return gained


def _check_traits(
    report: RealismReport, photo: FaceTraits, out: FaceTraits, identity_glasses: bool
) -> None:
    edges = _gain(report, "glasses_gained", photo.glasses, out.glasses) > GLASSES_GAINED
    bridge = _gain(report, "frames_gained", photo.frames, out.frames) > FRAMES_GAINED
    rims = _gain(report, "rims_gained", photo.rims, out.rims)
    if edges or bridge or rims > (RIMS_GAINED_FROM_GLASSES if identity_glasses else RIMS_GAINED):
        report.add(
            "glasses_fragments", "frame-like lines across the eyes and nose that the photo has not"
        )
    if _gain(report, "facial_hair_gained", photo.facial_hair, out.facial_hair) > FACIAL_HAIR_GAINED:
        report.add(
            "facial_hair", "stubble or a moustache on the lips and chin that the photo has not"
        )
    if report.figures["facial_hair_gained"] < -FACIAL_HAIR_LOST:  # type: ignore[operator]
        report.add("facial_hair", "the photo's beard or moustache is half gone: pieces of it stay")
    if _gain(report, "eye_shadow_gained", photo.eye_shadow, out.eye_shadow) > EYE_SHADOW_GAINED:
        report.add(
            "eye_region",
            "dark smears around the eyes (lashes, liner, shadows) that the photo has not",
        )
    if _gain(report, "marks_gained", photo.marks, out.marks) > MARKS_GAINED:
        report.add(
            "doubled_features",
            "dark strokes on the forehead or cheeks: brow or frame pieces, hair edges",
        )
    report.figures["mouth_open"] = out.mouth_open
    report.figures["teeth"] = out.teeth
    if photo.mouth_open < CLOSED and (out.mouth_open > OPENED or out.teeth > TEETH):
        report.add("expression", "teeth or an open mouth where the photo's mouth is closed")
    ratio = out.eyes_open / max(photo.eyes_open, 1e-3)
    report.figures["eyes_open_ratio"] = ratio
    if not (EYES_BAND[0] <= ratio <= EYES_BAND[1]):
        report.add("expression", "the eyes are opened differently from the photo's")
