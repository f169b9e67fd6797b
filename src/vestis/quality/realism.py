"""Realism: does the face of a model-swap output look like a photo of a person, in the photo's
own expression, light and grain? Named defects, each with a figure and a threshold.

The identity measure says whose face it is; this one says whether a person would publish it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vestis.quality.faces import Box
from vestis.quality.pixels import sharpness_ratio

#: The new face's sharpness relative to the photo's own face: outside this band it looks pasted
#: (crisper than a soft photo) or smeared.
SHARPNESS_BAND = (0.8, 1.25)


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
        """One line naming every defect, or None when there is none."""
        return "; ".join(self.reasons) if self.reasons else None


def measure_realism(original: np.ndarray, output: np.ndarray, face_box: Box) -> RealismReport:
    """The realism checks of a model swap's `output` against its `original` photo, around the
    original's face (`face_box`, dlib's box in image pixels). Both uint8 RGB, the same size."""
    report = RealismReport()
    ratio = sharpness_ratio(output, original, face_box)
    report.figures["sharpness_ratio"] = ratio
    low, high = SHARPNESS_BAND
    if ratio is not None and not (low <= ratio <= high):
        word = "crisper" if ratio > high else "softer"
        report.add(
            "sharpness",
            f"the new face is {word} than the photo ({ratio:.2f} of its sharpness, "
            f"{low}-{high} looks like one photo)",
        )
    return report
