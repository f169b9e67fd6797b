"""Did each garment make it from its photo onto the body? Measures for flat-to-model.

A garment can be lost at two steps, and each is measured from masks alone, so that any engine
that can say where it put a garment can be measured the same way:

- the cut-out (`measure_cutout`): how much of the photo's object the cut-out kept, whether it
  is whole (holes, stray fragments, a solid shape rather than an outline of trims), and how its
  box compares with the object's. A cream knit dress on a cream backdrop cut down to its black
  trims keeps a small share of the object, in a thin, hollow shape.
- the output (`measure_placement`): how much of the body region where the garment belongs it
  covers, how much of the frame it takes, whether the body's own clothes still show where the
  new ones should be, and whether the body ends inside the frame.

Each set of measures gives a verdict: "ok", "doubtful" (deliver with a warning and a low
score) or "lost" (the garment did not make it: refuse the output), with the reasons in words.
`garment_score` turns verdicts into the engine's score, which the overall quality score can
only lower, never raise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import cv2
import numpy as np

Verdict = Literal["ok", "doubtful", "lost"]

#: The highest score an output can have with a doubtful or a lost garment.
DOUBTFUL_SCORE = 0.45
LOST_SCORE = 0.1
#: How much of the body's own clothes (relative to the area a garment must cover) may show
#: where a new garment replaces them, and how much skin painted over them (a few shoulder
#: pixels where a tank top's straps were are fine; a block below a cropped top is not).
OLD_CLOTHES_LIMIT = 0.03
BARE_PATCH_LIMIT = 0.15


@dataclass(frozen=True)
class CutoutMeasures:
    """One garment photo's cut-out, measured against the object the photo shows."""

    kept: float  # share of the photo's object (all that is not plain backdrop) in the cut-out
    area: float  # cut-out pixels / photo pixels
    fill: float  # cut-out pixels / the area of its pieces' boxes
    spread: float  # cut-out pixels / the area of the box around all its pieces
    solidity: float  # cut-out pixels / the area of its pieces' convex hulls
    holes: float  # share of the area inside the cut-out's outline that it left out
    fragments: int  # pieces left out (stray specks not counted)
    fragments_share: float  # their share of the area (with the kept pieces)
    box_ratio: float  # the cut-out's box area / the object's box area
    border: float  # share of the photo's edge pixels the cut-out touches
    #: the cut-out's height / the object's height: a dress whose hem the cut-out lost is short
    #: (judged by the engine, which knows the garment's kind: shoes lose their shadow here)
    length: float = 1.0

    def findings(self) -> tuple[Verdict, list[str]]:
        """The verdict, and what led to it (empty when ok)."""
        lost, doubtful = [], []
        if self.area < 0.003:
            lost.append("almost nothing was found on the backdrop")
        if self.kept < 0.5:
            lost.append(f"the cut-out kept only {self.kept:.0%} of the garment in the photo")
        elif self.kept < 0.85:
            doubtful.append(f"the cut-out kept {self.kept:.0%} of the garment in the photo")
        if self.box_ratio < 0.5:
            lost.append(f"the cut-out spans {self.box_ratio:.0%} of the garment's extent")
        elif self.box_ratio < 0.8:
            doubtful.append(f"the cut-out spans {self.box_ratio:.0%} of the garment's extent")
        if self.solidity < 0.3 or self.fill < 0.15:
            lost.append("the cut-out is a thin outline (trims, seams), not a whole garment")
        elif self.spread < 0.12:
            lost.append("the cut-out is scattered pieces (trims, buttons), not a whole garment")
        elif self.solidity < 0.45 or self.fill < 0.25:
            doubtful.append("the cut-out is hollow or ragged")
        if self.holes > 0.1:
            doubtful.append(f"{self.holes:.0%} of the garment's outline is holes")
        if self.fragments_share > 0.1:
            doubtful.append(f"{self.fragments} pieces ({self.fragments_share:.0%}) were left out")
        if self.area > 0.9:
            doubtful.append("the photo shows no plain backdrop around the garment")
        if self.border > 0.05:
            doubtful.append("the garment is cut by the photo's frame")
        if lost:
            return "lost", lost + doubtful
        return ("doubtful", doubtful) if doubtful else ("ok", [])

    def as_dict(self) -> dict[str, Any]:
        verdict, reasons = self.findings()
        values = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}
        return {**values, "verdict": verdict, "reasons": reasons}


def _hulls_and_boxes(mask: np.ndarray) -> tuple[float, float]:
    """Summed convex-hull area and box area of the pieces of `mask` (so that a pair of shoes is
    measured shoe by shoe)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)  # fmt: skip
    hull_area = box_area = 0.0
    for contour in contours:
        hull_area += cv2.contourArea(cv2.convexHull(contour)) + 0.5 * cv2.arcLength(contour, True)
        _, _, bw, bh = cv2.boundingRect(contour)
        box_area += bw * bh
    return hull_area, box_area


def _box_area(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return 0.0
    return float((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))


def _holes(mask: np.ndarray) -> float:
    """Share of the area inside the outer outline that is not in `mask`."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)  # fmt: skip
    filled = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    inside = int(filled.sum())
    return float(inside - int((mask & (filled > 0)).sum())) / inside if inside else 0.0


def measure_cutout(
    garment: np.ndarray, photo_object: np.ndarray, dropped: int = 0, dropped_share: float = 0.0
) -> CutoutMeasures:
    """Measure a cut-out (`garment`, bool) against the object its photo shows (`photo_object`,
    bool, same size: everything that is not plain backdrop). `dropped` and `dropped_share`:
    the pieces the cut-out left out on purpose (stray specks), if the cutter counted them."""
    area = int(garment.sum())
    if area == 0:
        return CutoutMeasures(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, dropped, 1.0, 0.0, 0.0)
    object_area = max(int(photo_object.sum()), 1)
    hull_area, box_area = _hulls_and_boxes(garment)
    edge = np.concatenate([garment[0], garment[-1], garment[:, 0], garment[:, -1]])
    return CutoutMeasures(
        kept=float((garment & photo_object).sum()) / object_area,
        area=area / garment.size,
        fill=area / max(box_area, 1.0),
        spread=area / max(_box_area(garment), 1.0),
        solidity=min(1.0, area / max(hull_area, 1.0)),
        holes=_holes(garment),
        fragments=int(dropped),
        fragments_share=float(dropped_share),
        box_ratio=_box_area(garment) / max(_box_area(photo_object), 1.0),
        border=float(edge.mean()),
        length=_height(garment) / max(_height(photo_object), 1.0),
    )


def _height(mask: np.ndarray) -> float:
    rows = np.flatnonzero(mask.any(axis=1))
    return float(rows[-1] - rows[0] + 1) if rows.size else 0.0


@dataclass(frozen=True)
class PlacementMeasures:
    """One garment on one output."""

    coverage: float  # share of the body region where the garment belongs that it covers
    area: float  # the garment's visible pixels / output pixels
    old_clothes: float  # the body's own clothes still showing, relative to that region's area
    bare_patch: float  # skin painted over the body's own clothes, showing, relative likewise
    body_cut: bool  # the body ends inside the frame (above the feet)

    @property
    def hidden(self) -> bool:
        """Drawn where it belongs, but what shows of it is a sliver: a layer on top hides it."""
        return self.area < 0.002 and self.coverage >= 0.3

    @property
    def shows_through(self) -> bool:
        """The body's own clothes (or the skin painted over them) show too much."""
        return self.old_clothes > OLD_CLOTHES_LIMIT or self.bare_patch > BARE_PATCH_LIMIT

    def findings(self) -> tuple[Verdict, list[str]]:
        lost, doubtful = [], []
        if self.hidden:
            lost.append(
                f"it is hidden under the garments drawn over it, showing on {self.area:.1%} of "
                "the image"
            )
        elif self.area < 0.002 or self.coverage < 0.3:
            lost.append(f"it covers {self.coverage:.0%} of the body where it belongs")
        elif self.coverage < 0.6:
            doubtful.append(f"it covers only {self.coverage:.0%} of the body where it belongs")
        if self.old_clothes > OLD_CLOTHES_LIMIT:
            doubtful.append(
                f"the body's own clothes show ({self.old_clothes:.0%} of the area it must cover)"
            )
        if self.bare_patch > BARE_PATCH_LIMIT:
            doubtful.append(
                f"skin painted over the body's own clothes shows ({self.bare_patch:.0%} of the "
                "area it must cover)"
            )
        if self.body_cut:
            doubtful.append("the body ends inside the frame")
        if lost:
            return "lost", lost + doubtful
        return ("doubtful", doubtful) if doubtful else ("ok", [])

    def as_dict(self) -> dict[str, Any]:
        verdict, reasons = self.findings()
        return {
            "coverage": round(self.coverage, 4),
            "area": round(self.area, 4),
            "old_clothes": round(self.old_clothes, 4),
            "bare_patch": round(self.bare_patch, 4),
            "body_cut": self.body_cut,
            "verdict": verdict,
            "reasons": reasons,
        }


def measure_placement(
    drawn: np.ndarray,
    visible: np.ndarray,
    region: np.ndarray,
    old_clothes: np.ndarray | None = None,
    bare_patch: np.ndarray | None = None,
    body_cut: bool = False,
) -> PlacementMeasures:
    """Measure one garment on an output. Masks (bool, the output's size): `drawn`, where the
    garment was drawn (under later layers too); `visible`, where it shows; `region`, the body
    region it must cover (a top: the chest; trousers: hips to thighs); `old_clothes`, where the
    body's own clothes that this garment replaces still show (anywhere: an old top showing
    below a cropped new one counts), measured relative to the region's area; `bare_patch`,
    likewise, where skin painted over them shows."""
    region_area = max(int(region.sum()), 1)
    coverage = float((drawn & region).sum()) / region_area

    def share(mask: np.ndarray | None) -> float:
        return 0.0 if mask is None else min(1.0, float(mask.sum()) / region_area)

    return PlacementMeasures(
        coverage=coverage,
        area=float(visible.sum()) / visible.size,
        old_clothes=share(old_clothes),
        bare_patch=share(bare_patch),
        body_cut=body_cut,
    )


def garment_score(verdicts: list[Verdict]) -> float:
    """The most an output's score may be, given its garments' verdicts: 1 when all are ok."""
    if "lost" in verdicts:
        return LOST_SCORE
    if "doubtful" in verdicts:
        return DOUBTFUL_SCORE
    return 1.0


_ORDER: dict[str, int] = {"ok": 0, "doubtful": 1, "lost": 2}


def wire_summary(engine_garments: Any) -> list[dict[str, Any]] | None:
    """The result's `metrics.garments` from what an engine reported in its output's metadata
    (`garments`: per garment, its `name` and `kind`, and the `as_dict()` of its
    `CutoutMeasures` as `cutout` and of its `PlacementMeasures` as `placement`); None when the
    engine does not measure garments. The verdict is the worse of the two."""
    if not isinstance(engine_garments, list) or not engine_garments:
        return None
    summary = []
    for garment in engine_garments:
        if not isinstance(garment, dict):
            return None
        cutout, placement = garment.get("cutout") or {}, garment.get("placement") or {}
        verdicts = [str(p.get("verdict", "ok")) for p in (cutout, placement)]
        summary.append(
            {
                "name": garment.get("name"),
                "kind": garment.get("kind"),
                "verdict": max(verdicts, key=lambda v: _ORDER.get(v, 0)),
                "reasons": list(cutout.get("reasons", [])) + list(placement.get("reasons", [])),
                "cutout_kept": cutout.get("kept"),
                "coverage": placement.get("coverage"),
                "old_clothes": placement.get("old_clothes"),
            }
        )
    return summary
