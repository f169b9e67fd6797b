"""Packshots on a CPU: the garment cut out whole (`cutout.cut_out`) and set on pure white
(`white_cutout`) or on a plain, tinted surface seen from above (`flat_lay`), centred and
sized by `framing`, with a contact or a soft drop shadow.

The styles that need a garment drawn anew (`ghost_mannequin`: the garment as if worn by no one;
`marketing_ready`: a scene; `free`: anything a prompt asks) are refused with the engines that
can make them: the local engine never draws what the photo does not show.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import cv2
import numpy as np

from vestis.engines.base import EngineError
from vestis.quality import colour

LOCAL_STYLES = ("white_cutout", "flat_lay")
GENERATIVE_STYLES = ("ghost_mannequin", "marketing_ready", "free")
#: Share of the canvas's tighter side the garment spans.
FILL = {"full_frame": 0.94}
DEFAULT_FILL = 0.80
#: The flat-lay surface when the instruction names no colour: a light warm paper.
DEFAULT_SURFACE = (238, 235, 230)


#: What a variation may change, each only where the instruction leaves it open (canonical
#: choice first): the flat-lay surface's tint, the shadow, and how much room the framing gives.
SURFACE_TINTS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("warm paper", DEFAULT_SURFACE),
    ("cool light grey", (226, 229, 232)),
    ("linen", (236, 228, 212)),
    ("pale sage", (222, 229, 218)),
)
ALTERNATE_FILLS: tuple[tuple[str, float], ...] = (
    ("standard framing", DEFAULT_FILL),
    ("roomier framing", 0.68),
    ("tighter framing", 0.90),
)


@dataclass(frozen=True)
class Variant:
    """The look of one variation: surface colour, shadow kind, fill, and what it changed."""

    surface: tuple[int, int, int] | None  # None: as the instruction says
    shadow: str
    fill: float
    changes: tuple[str, ...] = ()
    #: The earlier variation (0-based) this one repeats: nothing was left to change.
    repeats: int | None = None


def variants(instruction: dict[str, object], style: str, count: int) -> list[Variant]:
    """`count` looks for the variations of one instruction: the first is the instruction's own,
    each next one changes what the instruction leaves open (one choice at a time first:
    surface tint, shadow, framing in turn), so a user picks between real alternatives. With
    nothing left open, or once every combination is used, a variation repeats an earlier one
    (`repeats`)."""
    explicit_surface = any(
        isinstance(instruction.get(k), str) and str(instruction.get(k)).strip()
        for k in ("surface", "background")
    )
    shadow = str(instruction.get("shadow") or "auto")
    canonical_shadow = _shadow_kind(instruction, style)
    knobs: list[list[tuple[str, object]]] = []
    if style == "flat_lay" and not explicit_surface:
        knobs.append([(f"{name} surface", rgb) for name, rgb in SURFACE_TINTS])
    if shadow == "auto":
        others = [k for k in ("contact", "soft_drop", "none") if k != canonical_shadow]
        shadows = [canonical_shadow, *others]
        knobs.append([(f"{k.replace('_', ' ')} shadow" if k != "none" else "no shadow", k)
                      for k in shadows])  # fmt: skip
    if instruction.get("framing") is None:
        knobs.append(list(ALTERNATE_FILLS))
    # the instruction's own look first, then one change at a time, taking the knobs in turn
    # (surface, shadow, framing), then two changes, ...
    picks = sorted(
        itertools.product(*(range(len(k)) for k in knobs)),
        key=lambda p: (sum(i > 0 for i in p), max(p, default=0), tuple(reversed(p))),
    )
    looks = [tuple(knobs[n][i] for n, i in enumerate(p)) for p in picks]
    out: list[Variant] = []
    for index in range(count):
        look = looks[index % len(looks)]
        surface, kind, fill = (
            None,
            canonical_shadow,
            FILL.get(str(instruction.get("framing")), DEFAULT_FILL),
        )
        changes: list[str] = []
        for position, (label, value) in enumerate(look):
            if label.endswith("surface"):
                surface = value if isinstance(value, tuple) else None
            elif label.endswith("shadow"):
                kind = str(value)
            else:
                fill = float(value)  # type: ignore[arg-type]
            if knobs[position][0][1] != value:
                changes.append(label)
        repeats = index % len(looks) if index >= len(looks) else None
        out.append(Variant(surface, kind, fill, tuple(changes), repeats))
    return out


def refusal(style: str) -> str:
    return (
        f"The local engine cannot make a {style!r} packshot: it needs the garment drawn anew "
        "(a generative model), and the local engine only cuts out what the photo shows. Use the "
        "hosted On-Model service through the gateway (vestis serve --engine onmodel,local), or "
        "ask the local engine for white_cutout or flat_lay."
    )


@dataclass
class Packshot:
    image: np.ndarray  # RGB uint8, width x height asked
    garment_whole: bool
    notes: list[str] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)


def _surface(instruction: dict[str, object], style: str) -> tuple[tuple[int, int, int], list[str]]:
    if style == "white_cutout":
        return (255, 255, 255), []
    for key in ("surface", "background"):
        text = instruction.get(key)
        if isinstance(text, str) and text.strip():
            try:
                return colour.parse_colour(text), []
            except colour.ColourError:
                return DEFAULT_SURFACE, [
                    f"{key} {text!r} is not a colour the local engine knows: a plain light "
                    "surface was used (name a colour, e.g. linen, beige, #E8E0D0)"
                ]
    return DEFAULT_SURFACE, []


def _shadow_kind(instruction: dict[str, object], style: str) -> str:
    shadow = str(instruction.get("shadow") or "auto")
    if shadow == "auto":
        return "contact" if style == "white_cutout" else "soft_drop"
    return "soft_drop" if shadow == "natural" else shadow


def _shadow(alpha: np.ndarray, kind: str) -> np.ndarray:
    """Shadow strength (0..1) on the canvas for the placed garment's alpha (float 0..1)."""
    h = alpha.shape[0]
    if kind == "none":
        return np.zeros_like(alpha)
    if kind == "soft_drop":
        shift = max(2, round(h * 0.012))
        moved = np.zeros_like(alpha)
        moved[shift:, shift // 2 :] = alpha[:-shift, : alpha.shape[1] - shift // 2]
        return cv2.GaussianBlur(moved, (0, 0), max(2.0, h * 0.012)) * 0.35
    # contact: a thin dark ellipse where the hem meets the floor, as wide as the hem (the
    # lowest rows), not as the sleeves
    ys, xs = np.nonzero(alpha > 0.5)
    shade = np.zeros_like(alpha)
    if len(ys) == 0:
        return shade
    bottom = int(ys.max())
    hem = ys >= bottom - max(2, int(0.04 * (bottom - ys.min())))
    left, right = int(xs[hem].min()), int(xs[hem].max())
    centre = ((left + right) // 2, bottom - 1)
    axes = (max(1, (right - left) // 2 + 4), max(1, round(h * 0.008)))
    cv2.ellipse(shade, centre, axes, 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(shade, (0, 0), max(1.5, h * 0.008)) * 0.45


def _place(
    rgb: np.ndarray,
    alpha: np.ndarray,
    box: tuple[int, int, int, int],
    size: tuple[int, int],
    fill: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The garment's crop scaled to span `fill` of the canvas's tighter side, centred."""
    width, height = size
    x0, y0, x1, y1 = box
    crop, mask = rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
    scale = min(width * fill / crop.shape[1], height * fill / crop.shape[0])
    w, h = max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    crop = cv2.resize(crop, (w, h), interpolation=interp)
    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((height, width, 3), np.uint8)
    placed = np.zeros((height, width), np.float32)
    left, top = (width - w) // 2, (height - h) // 2
    canvas[top : top + h, left : left + w] = crop
    placed[top : top + h, left : left + w] = mask.astype(np.float32) / 255.0
    return canvas, placed


def make_packshot(
    rgb: np.ndarray,
    instruction: dict[str, object],
    size: tuple[int, int],
    variant: Variant | None = None,
) -> Packshot:
    """One packshot of the garment in `rgb` (a packshot, hanger or mannequin photo) at `size`
    (width, height), as `instruction` (the wire instruction) asks; `variant` (see `variants`)
    is the look of a variation other than the first."""
    from vestis.engines.local.cutout import cut_out

    style = str(instruction.get("style") or "white_cutout")
    if style in GENERATIVE_STYLES:
        raise EngineError(refusal(style))
    cut = cut_out(rgb)
    verdict, reasons = cut.measures.findings()
    if verdict == "lost" or not cut.boxes:
        raise EngineError(
            "The garment could not be cut out whole from this photo ("
            + "; ".join(reasons)
            + "). Use a photo of the garment alone on a plain backdrop."
        )
    ys, xs = np.nonzero(cut.alpha)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    fill = FILL.get(str(instruction.get("framing")), DEFAULT_FILL)
    surface, notes = _surface(instruction, style)
    kind = _shadow_kind(instruction, style)
    if variant is not None:
        fill, kind = variant.fill, variant.shadow
        surface = variant.surface or surface
    garment, alpha = _place(rgb, cut.alpha, box, size, fill)
    shade = _shadow(alpha, kind)
    ground = np.empty_like(garment, dtype=np.float32)
    ground[:] = surface
    ground *= (1.0 - shade)[..., None]
    a = alpha[..., None]
    out = np.clip(a * garment + (1.0 - a) * ground, 0, 255).round().astype(np.uint8)
    touches = cut.measures.border > 0.02
    whole = verdict == "ok" and not touches
    if touches:
        notes.append("the garment runs into the photo's edge: part of it may be missing")
    notes += [f"cut-out: {r}" for r in reasons]
    return Packshot(
        out,
        whole,
        notes,
        {
            "cutout_kept": round(cut.measures.kept, 4),
            "cutout_border": round(cut.measures.border, 4),
        },
    )
