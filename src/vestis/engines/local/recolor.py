"""Garment recolour on a CPU: the garment's mask, then a shift in Lab that moves the garment's
median colour onto the target and keeps everything around it.

Why Lab and a shift rather than painting a colour: shading, folds, texture and a print are
the garment's deviations from its median colour; moving the median (a and b by the difference,
lightness scaled around it) keeps those deviations, so the garment still looks like fabric.
Lightness is scaled, not shifted, toward a darker or lighter target: a white shirt turned navy
keeps its folds without its shadows going below black.

Everything outside the mask is the input's pixels bit for bit (the composite copies them).

The mask: a packshot's garment from the packshot cut-out (`cutout.cut_out`); a worn garment
from the person segmentation and the body's own clothes (`clothes.own_clothes`), upper or
lower body by `garment_label`. A mask that is not a whole garment is refused, not recoloured.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from vestis.engines.base import EngineError
from vestis.quality import colour

#: Words of a `garment_label` that name a lower-body garment, and a whole-body one.
_LOWER = ("pant", "trouser", "jean", "skirt", "short", "legging", "chino", "jogger")
_WHOLE = ("dress", "jumpsuit", "overall", "romper", "gown")
#: ΔE2000 under which the upper and lower clothes are one colour (one dress, or a set).
SAME_COLOUR = 4.0
#: Smallest worn garment recoloured, as a share of the photo.
MIN_WORN_SHARE = 0.02
#: Lightness is scaled around the garment's median by at least this much (a black garment
#: turned white would otherwise lose all its folds).
MIN_LIGHTNESS_SCALE = 0.35


@dataclass
class GarmentMask:
    alpha: np.ndarray  # uint8 0..255, the photo's size; 0 = not garment, untouched
    source: str  # "packshot" or "worn"
    notes: list[str]


def _packshot_mask(rgb: np.ndarray) -> GarmentMask:
    from vestis.engines.local.cutout import cut_out

    cut = cut_out(rgb)
    verdict, reasons = cut.measures.findings()
    if verdict == "lost":
        raise EngineError(
            "The garment could not be cut out of this photo well enough to recolour it ("
            + "; ".join(reasons)
            + "). Use a photo of the garment on a plain backdrop, or a remote engine."
        )
    return GarmentMask(cut.alpha, "packshot", reasons)


def _part(label: str | None) -> str:
    words = (label or "").lower()
    if any(w in words for w in _WHOLE):
        return "whole"
    if any(w in words for w in _LOWER):
        return "lower"
    return "upper" if words else "largest"


def _worn_mask(rgb: np.ndarray, face: object, label: str | None) -> GarmentMask:
    from vestis.engines.local import models
    from vestis.engines.local.clothes import own_clothes
    from vestis.engines.local.faces import body_landmarks

    landmarks = body_landmarks(rgb)
    assert landmarks is not None
    person = models.person_mask(rgb)
    own = own_clothes(rgb, face, landmarks, person)  # type: ignore[arg-type]
    part = _part(label)
    if part == "largest" and _one_colour(rgb, own.upper, own.lower):
        part = "whole"  # a dress, or a set: cut at the waist line, it would show a seam
    if part == "whole":
        mask = own.upper | own.lower
    elif part == "largest":
        mask = own.upper if own.upper.sum() >= own.lower.sum() else own.lower
    else:
        mask = own.upper if part == "upper" else own.lower
    if part == "largest":
        part = "upper" if mask is own.upper else "lower"
    other = own.lower if part == "upper" else own.upper if part == "lower" else None
    chin = int(face.landmarks[152][1])  # type: ignore[attr-defined]
    mask = _grown(rgb, _main_piece(mask), person > 0.5, own.skin, part, other, chin)
    share = float(mask.mean())
    if share < MIN_WORN_SHARE:
        raise EngineError(
            f"The {'garment' if part in ('whole', 'largest') else part + '-body garment'} "
            f"could not be found on the model well enough to recolour it (it covers "
            f"{share:.1%} of the photo; at least {MIN_WORN_SHARE:.0%} is needed). Name it with "
            "garment_label, or use a remote engine."
        )
    _check_mask(rgb, mask, person > 0.5)
    # Feathered a pixel or two past the mask: the body's clothes stop short of the garment's
    # rim, which would stay a thin line of the old colour. The skin or backdrop the feather
    # reaches is far from the garment's colour, and `base_weight` leaves it as it is.
    solid = mask.astype(np.uint8) * 255
    alpha = cv2.GaussianBlur(cv2.dilate(solid, np.ones((3, 3), np.uint8)), (0, 0), 1.0)
    alpha[solid == 0] = np.minimum(alpha[solid == 0], 254)  # feathered edge, never core
    return GarmentMask(alpha, "worn", [])


def _one_colour(rgb: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> bool:
    """The body's upper and lower clothes are of one colour (ΔE2000 of their medians)."""
    if upper.sum() < 50 or lower.sum() < 50:
        return False
    medians = [np.median(colour.to_lab(rgb[part]), axis=0) for part in (upper, lower)]
    return colour.delta_e(medians[0], medians[1]) < SAME_COLOUR


def _grown(
    rgb: np.ndarray,
    mask: np.ndarray,
    person: np.ndarray,
    skin: np.ndarray,
    part: str,
    other: np.ndarray | None,
    chin: int,
) -> np.ndarray:
    """The garment mask grown over the person's pixels of the garment's own colour that touch
    it: the body's clothes leave out a hood and the collar beside the face, and cut a top at
    the waist line, which a recolour must not leave in the old colour. Not into skin, and past
    the waist line (below an upper garment, above a lower one) not into the `other` garment's
    colour (trousers of the top's colour would be taken along)."""
    if mask.sum() < 50:
        return mask
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    base = np.median(lab[mask], axis=0)
    spread = np.median(np.abs(lab[mask] - base), axis=0) * 3.0 + np.array([14.0, 6.0, 6.0])
    near = (np.abs(lab - base) <= spread).all(axis=2) & person & ~skin
    # above the chin only a hood or a collar of the very colour, never hair of a dark garment
    strict = (np.abs(lab - base) <= spread / 2).all(axis=2) if part == "upper" else False
    near[:chin] &= strict[:chin] if part == "upper" else False
    rows = np.nonzero(mask.any(axis=1))[0]
    ys = np.arange(mask.shape[0])[:, None]
    if part in ("upper", "lower"):
        beyond = np.broadcast_to(
            ys > rows.max() if part == "upper" else ys < rows.min(), near.shape
        )
        if other is not None and other.sum() >= 50:
            other_base = np.median(lab[other], axis=0)
            near &= ~(beyond & (np.abs(lab - other_base) <= spread).all(axis=2))
        else:
            near &= ~beyond
    near |= mask
    count, labels = cv2.connectedComponents(near.astype(np.uint8), connectivity=8)
    touching = np.unique(labels[mask])
    return np.isin(labels, touching[touching > 0])


#: Least share of a worn garment's pixels within `_NEAR` of its median colour in a and b.
MIN_OWN_COLOUR = 0.6
#: Most of the ring just outside a worn garment's mask that may be of the garment's colour.
MAX_OPEN_EDGE = 0.35
#: Chroma distance (a*, b*) within which a pixel is of the garment's colour; lightness is free
#: (folds and shadows) within `_NEAR_L`.
_NEAR = 12.0
_NEAR_L = 35.0


def _of_colour(lab: np.ndarray, base: np.ndarray) -> np.ndarray:
    chroma = np.hypot(lab[..., 1] - base[1], lab[..., 2] - base[2])
    return (chroma < _NEAR) & (np.abs(lab[..., 0] - base[0]) < _NEAR_L)


def _check_mask(rgb: np.ndarray, mask: np.ndarray, person: np.ndarray) -> None:
    """A worn garment's mask is refused when it is not one garment: most of it is not one
    colour (it took in other garments, skin or things held), or its edge runs through the
    garment's own colour on the person (it stops in the middle of the garment, and a recolour
    would leave a seam)."""
    lab = colour.to_lab(rgb[mask])
    base = np.median(lab, axis=0)
    share = float(_of_colour(lab, base).mean())
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    ring &= ~mask & person
    open_edge = float(_of_colour(colour.to_lab(rgb[ring]), base).mean()) if ring.any() else 0.0
    if share >= MIN_OWN_COLOUR and open_edge <= MAX_OPEN_EDGE:
        return
    why = (
        f"only {share:.0%} of what was found is of one colour (it runs into other garments or "
        "things held)"
        if share < MIN_OWN_COLOUR
        else f"{open_edge:.0%} of its edge runs through the garment's own colour (it stops in "
        "the middle of the garment)"
    )
    raise EngineError(
        f"The garment could not be told apart on the model well enough to recolour it: {why}. "
        "Name it with garment_label, use a packshot of the garment, or a remote engine."
    )


def _main_piece(mask: np.ndarray) -> np.ndarray:
    """The largest connected piece and every piece at least a tenth of its size."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = [i + 1 for i, a in enumerate(areas) if a >= 0.1 * areas.max()]
    return np.isin(labels, keep)


def garment_mask(rgb: np.ndarray, label: str | None = None) -> GarmentMask:
    """The garment's alpha: a model photo (a face and a body in it) by the body's clothes,
    else by the packshot cut-out."""
    from vestis.engines.local.faces import body_landmarks, find_face

    face = find_face(rgb)
    # a face with no body is a printed face or a portrait: a packshot's cut-out decides
    if face is not None and body_landmarks(rgb) is not None:
        return _worn_mask(rgb, face, label)
    return _packshot_mask(rgb)


def _lightness_scale(median_l: float, target_l: float) -> float:
    """How much the garment's lightness deviations shrink so that they fit above black and
    below white around the new median."""
    if target_l < median_l:
        scale = target_l / max(median_l, 1.0)
    else:
        scale = (100.0 - target_l) / max(100.0 - median_l, 1.0)
    return float(np.clip(scale, MIN_LIGHTNESS_SCALE, 1.0))


def to_rgb(lab: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] of Lab rows. A target far outside what the garment's shading allows gives
    colours outside sRGB: they are clipped, as skimage says in a warning meant for us (the
    measured ΔE2000 tells the user)."""
    from skimage.color import lab2rgb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(lab2rgb(lab[None, ...])[0])


def base_weight(lab: np.ndarray, median: np.ndarray, edge: np.ndarray | None = None) -> np.ndarray:
    """How much each garment pixel (Lab rows) belongs to the garment's own colour, 0..1: a
    print, a trim or a button departs from it by far more than the garment's shading and
    texture do (measured by their median departure), and keeps its colour. Lightness counts
    less below the median: a shadow is the garment's colour in the dark. On the garment's
    `edge` (its feathered rim) a pixel is a mix of the garment and what lies beside it, far
    from either colour: there the garment's colour reaches three times as far."""
    # darker is mostly shade (folds, the inside of a collar), which takes the new colour too
    below = lab[:, 0] < median[0]
    light = np.abs(lab[:, 0] - median[0]) * np.where(below, 0.4, 1.0)
    chroma = np.hypot(lab[:, 1] - median[1], lab[:, 2] - median[2])
    light_scale = 3.0 * float(np.median(light)) + 6.0
    chroma_scale = 3.0 * float(np.median(chroma)) + 6.0
    distance2 = (light / light_scale) ** 2 + (chroma / chroma_scale) ** 2
    if edge is not None:
        distance2 = np.where(edge, distance2 / 9.0, distance2)
    return np.exp(-2.0 * np.maximum(distance2 - 1.0, 0.0))


def shift_to(rgb: np.ndarray, alpha: np.ndarray, target_lab: np.ndarray) -> np.ndarray:
    """Move the garment's median Lab colour onto `target_lab`, deviations kept; composite by
    `alpha` (times how much a pixel is the garment's own colour, `base_weight`) with every
    pixel where alpha is 0 copied from `rgb` unchanged."""
    inside = alpha > 0
    median = colour.median_lab(rgb, alpha)
    if median is None:
        raise EngineError("The garment mask has no solid pixels to recolour.")
    lab = colour.to_lab(rgb[inside])
    scale = _lightness_scale(float(median[0]), float(target_lab[0]))
    new = np.empty_like(lab)
    new[:, 0] = target_lab[0] + (lab[:, 0] - median[0]) * scale
    new[:, 1:] = lab[:, 1:] + (target_lab[1:] - median[1:])
    painted = np.clip(to_rgb(new) * 255.0, 0, 255)
    rim = (alpha[inside] < 250) & (alpha[inside] >= 128)  # the garment's own edge, not beside it
    weight = alpha[inside].astype(np.float32) / 255.0 * base_weight(lab, median, rim)
    mixed = weight[:, None] * painted + (1.0 - weight[:, None]) * rgb[inside].astype(np.float32)
    out = rgb.copy()
    out[inside] = np.round(mixed).astype(np.uint8)
    return out


def reference_colour(rgb: np.ndarray) -> tuple[int, int, int]:
    """The colour a reference image shows: its garment's median when one can be cut out, else
    the median of its central half (a swatch)."""
    try:
        mask = garment_mask(rgb).alpha
        lab = colour.median_lab(rgb, mask)
    except EngineError:
        lab = None
    if lab is None:
        h, w = rgb.shape[:2]
        centre = rgb[h // 4 : h - h // 4, w // 4 : w - w // 4].reshape(-1, 3)
        lab = np.median(colour.to_lab(centre), axis=0)
    r, g, b = np.clip(np.round(to_rgb(lab[None, :])[0] * 255), 0, 255).astype(int)
    return int(r), int(g), int(b)
