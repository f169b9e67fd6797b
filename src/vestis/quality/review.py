"""What a reviewer should look at twice in one output, from what its result says (`metrics`,
`warnings`, `quality_score`), and the result fields the measures give one model-swap output.

One place for it: the server's results and studio, and `vestis measure`, which measures outputs
whoever made them, say the same thing about the same output.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    import numpy as np

    from vestis.quality.measures import OutputMeasures

# The measures (numpy, OpenCV and the face models behind them) are imported by the functions
# that measure: the server reads the review's rules (`review_reasons`, the thresholds) with
# every result, and starts without them.

#: Below this `quality_score` a completed output is flagged for review.
LOW_SCORE = 0.5
#: A swapped face sharper than this share of the input's looks as sharp as the photo.
SHARP_ENOUGH = 0.7
#: A model swap keeps at least this share of the pixels outside the head.
KEPT_ENOUGH = 0.99
#: How a realism defect starts, in a warning and in a review reason (so one is not said twice).
UNREAL = "face looks unreal"


def realism_defects(metrics: dict[str, Any]) -> list[str]:
    """The realism defects named in a result's `metrics` (empty: none found or not measured)."""
    realism = metrics.get("realism")
    if not isinstance(realism, dict):
        return []
    return [str(name) for name in realism.get("defects") or []]


def review_reasons(
    metrics: dict[str, Any] | None,
    warnings: Iterable[str] = (),
    score: float | None = None,
) -> list[str]:
    """Why a reviewer should look twice at a completed output (empty: nothing flagged): its
    warnings, a low score, then what the measures say that no warning said already."""
    reasons = [str(w) for w in warnings]
    if score is not None and score < LOW_SCORE:
        reasons.append(f"quality score {score:.2f} is below {LOW_SCORE:g}")
    said = " ".join(reasons)
    return reasons + [r for r in _metric_reasons(metrics or {}) if r.split(":")[0] not in said]


def _metric_reasons(metrics: dict[str, Any]) -> list[str]:
    """What the quality measures (the result's `metrics`) say a reviewer should check."""
    reasons = []
    if metrics.get("is_identity") is False:
        distance = metrics.get("identity_distance")
        where = f" (distance {distance:.2f})" if isinstance(distance, float) else ""
        reasons.append(f"not the identity: the face does not match{where}")
    defects = realism_defects(metrics)
    if defects:
        reasons.append(f"{UNREAL}: {', '.join(defects)}")
    sharpness = metrics.get("sharpness_ratio")
    if isinstance(sharpness, float) and sharpness < SHARP_ENOUGH:
        reasons.append(f"smeared face: {sharpness:.0%} of the photo's sharpness")
    kept = metrics.get("unchanged_outside_head")
    if isinstance(kept, float) and kept < KEPT_ENOUGH:
        reasons.append(f"garments changed: {kept:.1%} of the pixels outside the head kept")
    for garment in metrics.get("garments") or []:
        if isinstance(garment, dict) and garment.get("verdict") not in (None, "ok"):
            why = "; ".join(garment.get("reasons") or []) or str(garment.get("verdict"))
            reasons.append(f"garment {garment.get('name') or garment.get('kind')}: {why}")
    return reasons


def realism_warning(measures: OutputMeasures) -> str | None:
    """The sentence a user sees when the new face has a realism defect, naming the defects in
    words that are the same for every output (outputs with the same defects are said once,
    grouped; each figure is in `metrics.realism`); None when it looks like a photo (or was not
    measured)."""
    realism = measures.realism
    if realism is None or realism.ok:
        return None
    return f"{UNREAL} ({', '.join(realism.defects)}): {realism.summary()}"


def measured_warnings(measures: OutputMeasures) -> list[str]:
    """The warnings the measures add to an output's own (the engine's)."""
    from vestis.quality.measures import identity_warning

    return [w for w in (identity_warning(measures), realism_warning(measures)) if w is not None]


def result_fields(
    measures: OutputMeasures,
    engine_score: float | None = None,
    engine_warnings: Iterable[str] = (),
) -> dict[str, Any]:
    """What a result carries about one measured output: `quality_score`, `warnings`,
    `detail_needs_review`, `detail_review_reason` and `metrics`, as the server gives them."""
    from vestis.quality.measures import quality_score

    score = quality_score(measures, engine_score)
    warnings = [*engine_warnings, *measured_warnings(measures)]
    metrics = measures.as_dict()
    reasons = review_reasons(metrics, warnings, score)
    return {
        "quality_score": score,
        "detail_needs_review": bool(reasons),
        "detail_review_reason": "; ".join(reasons) or None,
        "warnings": warnings,
        "metrics": metrics,
    }


def measure_swap_files(original: Path, identity: Path, output: Path) -> dict[str, Any]:
    """`result_fields` of a model-swap output measured from its three files (any engine's).
    Raises `UnreadableImage` when a file is missing, not an image, or the output is not the
    original's size (a model swap keeps the photo's size)."""
    from vestis.quality.measures import measure_swap

    target, face = _open(original, "original"), _open(identity, "identity")
    made = _open(output, "output")
    if made.shape[:2] != target.shape[:2]:
        raise UnreadableImage(
            f"output {output}: {made.shape[1]}x{made.shape[0]} pixels, the original is "
            f"{target.shape[1]}x{target.shape[0]} (a model swap keeps the photo's size)"
        )
    return result_fields(measure_swap(target, face, made))


def measure_flat_files(identity: Path, output: Path) -> dict[str, Any]:
    """`result_fields` of a flat-to-model output measured from its files (any engine's)."""
    from vestis.quality.measures import measure_flat

    return result_fields(measure_flat(_open(identity, "identity"), _open(output, "output")))


class UnreadableImage(ValueError):
    """An input of a measure is missing or not an image; the message says which and why."""


def _open(path: Path, role: str) -> np.ndarray:
    import numpy as np

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise UnreadableImage(f"{role} {path}: no such file") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"{role} {path}: not a readable image ({exc})") from None
