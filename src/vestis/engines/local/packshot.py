"""Packshots on a CPU: the garment cut out whole (`cutout.cut_out`) and set on pure white
(`white_cutout`) or on a plain, tinted surface seen from above (`flat_lay`), centred and
sized by `framing`, with a contact or a soft drop shadow.

The styles that need a garment drawn anew (`ghost_mannequin`: the garment as if worn by no one;
`marketing_ready`: a scene; `free`: anything a prompt asks) are refused with the engines that
can make them: the local engine never draws what the photo does not show.
"""

from __future__ import annotations

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
    rgb: np.ndarray, instruction: dict[str, object], size: tuple[int, int]
) -> Packshot:
    """One packshot of the garment in `rgb` (a packshot, hanger or mannequin photo) at `size`
    (width, height), as `instruction` (the wire instruction) asks."""
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
    garment, alpha = _place(rgb, cut.alpha, box, size, fill)
    surface, notes = _surface(instruction, style)
    shade = _shadow(alpha, _shadow_kind(instruction, style))
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
