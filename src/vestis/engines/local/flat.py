"""Flat-to-model: dress a body (the identity's, or a mannequin with the identity's head) in
every garment of the job, on a backdrop built from the instruction, at the exact output size."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from vestis.engines.base import EngineError, EngineOutput, FlatSpec
from vestis.engines.local import garments as garment_mod
from vestis.engines.local import placement
from vestis.engines.local import sleeves as sleeve_mod
from vestis.engines.local.backdrop import parse_background, render_background
from vestis.engines.local.body import Body, identity_body, template_body, visible
from vestis.engines.local.clothes import full_length
from vestis.engines.local.compose import paste_affine, similarity
from vestis.engines.local.faces import ContentCache, body_landmarks, content_key, find_face
from vestis.engines.local.garments import Garment, span_at
from vestis.engines.local.instructions import design_text, instruction_warnings
from vestis.engines.local.placement import REPLACES
from vestis.engines.local.watermark import add_ai_watermark
from vestis.quality.garments import PlacementMeasures, Verdict, garment_score

#: Long edge of the working canvas; larger outputs are rendered at this size and scaled up
#: (the garment photos themselves are rarely sharper than that).
_WORK_LONG_EDGE = 2048
#: Pose landmarks each garment kind needs visible on an identity body.
_NEEDS = {
    "top": (11, 12, 23, 24),
    "outerwear": (11, 12, 23, 24),
    "dress": (11, 12, 23, 24, 25, 26),
    "bottom": (23, 24, 25, 26, 27, 28),
    "shoes": (27, 28),
}


def _central_width(mask: np.ndarray, lo: float, hi: float) -> float:
    """Median width of the run through the garment's centre column, over rows lo..hi."""
    h, w = mask.shape
    cx = w // 2
    widths = []
    for y in range(int(h * lo), max(int(h * hi), int(h * lo) + 1)):
        row = mask[y]
        if not row[cx]:
            continue
        left = cx - int(np.argmin(row[cx::-1])) if not row[: cx + 1].all() else 0
        right = cx + int(np.argmin(row[cx:])) if not row[cx:].all() else w
        widths.append(right - left)
    return float(np.median(widths)) if widths else float(w)


def _place_upper(
    canvas: np.ndarray, g: Garment, body: Body, layer: np.ndarray | None = None
) -> float:
    hu = body.head_unit
    rgba, sleeves = g.rgba, []
    if g.kind in ("top", "outerwear") and body.arms is not None:
        rgba, sleeves = sleeve_mod.split(g.rgba)
    mask = rgba[..., 3] > 127
    # Match the garment's chest (just below the armholes) to the body's, a little wider so that
    # no skin shows beside it; outerwear sits wider still, over what is under it. With the
    # sleeves split off, the chest is measured on the torso alone (sleeves lying beside it would
    # make it look wider, and the garment came out too small and short).
    lo, hi = (0.14, 0.24) if g.kind == "dress" else (0.36, 0.5)
    width = _central_width(mask, lo, hi)
    target = body.chest_span * (1.14 if g.kind == "outerwear" else 1.05)
    if sleeves and body.source == "identity":
        # The torso alone goes between a real body's arms: the joint-to-joint shoulder width
        # (the identity's chest span is 1.1 times that, sized for garments with no sleeves).
        target /= 1.1
    scale = target / max(width, 1.0)
    left, right = span_at(mask, 0.02)
    anchor = ((left + right) / 2, 0.0)
    mid = body.shoulder_mid
    neckline = 0.22 * hu if g.kind != "dress" else 0.1 * hu
    dst = (float(mid[0]), float(mid[1] - neckline))
    matrix = similarity(scale, body.shoulder_angle, anchor, dst)
    if sleeves and body.arms is not None:
        # Sleeves first, along the arms, so that the torso covers the shoulder seams.
        for sleeve, arm in zip(sleeves, body.arms, strict=True):
            sleeve_mod.warp_along_arm(canvas, sleeve, arm, scale, matrix, layer)
    paste_affine(canvas, rgba, matrix, layer)
    return length_kept(rgba.shape[:2], matrix, canvas.shape[0])


def _place_bottom(
    canvas: np.ndarray, g: Garment, body: Body, layer: np.ndarray | None = None
) -> float:
    mask = g.mask
    h = mask.shape[0]
    hu = body.head_unit
    left, right = span_at(mask, 0.02)
    scale = body.hip_span * 1.02 / max(right - left, 1.0)
    waist_y = float(body.hips[:, 1].mean() - 0.4 * hu)
    scale_y = scale
    if h / max(right - left, 1.0) > 1.9:  # full-length trousers: hem at the ankles
        scale_y = (float(body.ankles[:, 1].mean()) - 0.05 * hu - waist_y) / h
        scale_y = float(np.clip(scale_y, scale * 0.75, scale * 1.35))
    dst = (float(body.hips[:, 0].mean()), waist_y)
    matrix = similarity(scale, 0.0, ((left + right) / 2, 0.0), dst, scale_y)
    paste_affine(canvas, g.rgba, matrix, layer)
    return length_kept(g.rgba.shape[:2], matrix, canvas.shape[0])


def length_kept(size: tuple[int, int], matrix: np.ndarray, height: int) -> float:
    """The share of a garment's length (`size`: its cut-out's height and width, placed by
    `matrix`) that lies within a canvas `height` rows tall: below 1 when the frame cuts it."""
    h, w = size
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64)
    ys = (corners @ matrix[:, :2].T + matrix[:, 2])[:, 1]
    top, bottom = float(ys.min()), float(ys.max())
    inside = min(bottom, float(height)) - max(top, 0.0)
    return float(np.clip(inside / max(bottom - top, 1e-6), 0.0, 1.0))


def _place_shoes(
    canvas: np.ndarray, g: Garment, body: Body, layer: np.ndarray | None = None
) -> None:
    hu = body.head_unit
    parts = sorted(g.parts[:2], key=lambda b: b[0])
    if len(parts) == 1:  # one shoe shot: wear it on both feet
        parts = parts * 2
    for index, (x0, y0, x1, y1) in enumerate(parts):
        piece = g.rgba[y0:y1, x0:x1]
        ankle = body.ankles[index]
        if index == 0:
            piece = piece[:, ::-1]  # toes pointing outward on both sides
        scale = 1.0 * hu / max(x1 - x0, 1)
        src = ((x1 - x0) / 2, float(y1 - y0))
        dst = (float(ankle[0] + (index * 2 - 1) * 0.08 * hu), float(ankle[1] + 0.42 * hu))
        matrix = similarity(scale, 0.0, src, dst)
        paste_affine(canvas, np.ascontiguousarray(piece), matrix, layer)


#: Cut-outs by content: every instruction of a job dresses the same garments.
_garment_cache = ContentCache(size=32)


def _prepare_cached(rgb: np.ndarray, filename: str, note: str | None) -> Garment:
    key = f"{content_key(rgb)}|{filename}|{note}"
    cached = _garment_cache.get(key)
    if isinstance(cached, Garment):
        return cached
    garment = garment_mod.prepare(rgb, filename, note)
    _garment_cache.put(key, garment)
    return garment


def _on_white(image: Image.Image) -> Image.Image:
    """RGB; a transparent packshot is laid on white, so its cut-out is a plain-background one."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


#: A garment may lose at most this share of its length (to the cut-out or to the frame): a
#: midi dress cut to a mini is another garment.
MAX_LENGTH_LOST = 0.1


def _garments(spec: FlatSpec, warnings: list[str]) -> list[tuple[Garment, str]]:
    """Each garment cut out, with its name for messages, in drawing order. A garment whose
    cut-out is not whole fails the output (it would be drawn broken); a doubtful one is drawn
    with a warning."""
    prepared: list[tuple[Garment, str]] = []
    for index, item in enumerate(spec.garments):
        rgb = np.ascontiguousarray(np.asarray(_on_white(item.image)))
        name = item.filename or f"image {index + 1}"
        try:
            garment = _prepare_cached(rgb, item.filename, item.note)
        except ValueError:
            warnings.append(f"{name}: no garment found on a plain background; left out")
            continue
        if garment.kind == "shoes" and spec.barefoot:
            warnings.append(f"{name}: footwear left out (barefoot)")
            continue
        verdict, reasons = garment.cutout.findings()
        if garment.kind != "shoes" and 1.0 - garment.cutout.length > MAX_LENGTH_LOST:
            verdict, reasons = (
                "lost",
                [
                    *reasons,
                    f"the cut-out keeps {garment.cutout.length:.0%} of the garment's length",
                ],
            )
        if verdict == "lost":
            raise EngineError(
                f"{name}: the garment could not be cut out of its photo whole "
                f"({'; '.join(reasons)}). Flat-to-model needs a packshot or flat-lay on a plain "
                "backdrop that differs from the garment (a white garment on a white backdrop "
                "needs a visible outline or shadow)."
            )
        if verdict == "doubtful":
            warnings.append(
                f"{name}: the cut-out may not be the whole garment ({'; '.join(reasons)})"
            )
        prepared.append((garment, name))
    if not prepared:
        raise EngineError(
            "No garment could be cut out of the images: flat-to-model needs flat-lay or packshot "
            "photos on a plain, light background."
        )
    return sorted(prepared, key=lambda pair: pair[0].layer)


def _arms_across_torso(landmarks: np.ndarray) -> bool:
    """True when a wrist or elbow is in front of the torso (between the shoulders, above the
    hips): arms crossed, hands on the chest, holding something."""
    shoulders, hips = landmarks[[11, 12], :2], landmarks[[23, 24], :2]
    left, right = shoulders[:, 0].min(), shoulders[:, 0].max()
    inset = 0.15 * (right - left)
    top, bottom = shoulders[:, 1].mean(), hips[:, 1].mean()
    for index in (13, 14, 15, 16):  # elbows and wrists
        x, y, seen = landmarks[index]
        if seen > 0.3 and left + inset < x < right - inset and top < y < bottom:
            return True
    return False


def _identity_body(
    canvas: np.ndarray, identity: np.ndarray, kinds: set[str], rng: np.random.Generator,
    warnings: list[str],
) -> Body | None:  # fmt: skip
    """The identity's own body, when its photo shows all of it in a pose garments can be laid
    on; None (with a warning saying why) otherwise."""
    landmarks = body_landmarks(identity)
    if landmarks is None or not visible(landmarks, (11, 12, 23, 24)):
        # A portrait or bust: no shoulders and hips to dress (docs/engines.md: reported).
        warnings.append(
            "the identity image shows no body (shoulders and hips), only a face or a bust; "
            "dressed a body template with the identity's head instead"
        )
        return None
    needed = tuple(sorted({i for kind in kinds for i in _NEEDS[kind]}))
    if _arms_across_torso(landmarks):
        warnings.append(
            "the identity's arms are in front of the body (crossed or raised), so garments "
            "cannot be laid on it; dressed a body template with the identity's head instead"
        )
    elif not (visible(landmarks, needed) and full_length(landmarks, identity.shape[0])):
        # A body cut by the frame would end mid-thigh in the middle of the output.
        warnings.append(
            "the identity image does not show the whole body (down to the feet); dressed a body "
            "template with the identity's head instead"
        )
    else:
        replace = frozenset().union(*(REPLACES[kind] for kind in kinds))
        try:
            return identity_body(canvas, identity, landmarks, rng, find_face(identity), replace)
        except ValueError as err:
            warnings.append(
                f"the identity's body could not be cut out ({err}); dressed a body template "
                "with the identity's head instead"
            )
    return None


def _template(
    canvas: np.ndarray, identity: np.ndarray, kinds: set[str], rng: np.random.Generator
) -> Body:
    face = find_face(identity)
    if face is None:
        raise EngineError(
            "No face found in the identity image: flat-to-model needs an identity photo with a "
            "visible face (or a full body)."
        )
    base_layer = (not kinds & {"top", "dress"}, not kinds & {"bottom", "dress"})
    body = template_body(canvas, identity, face, rng, base_layer)
    body.base_layer = [name for name, on in zip(("tee", "trousers"), base_layer, strict=True) if on]
    return body


def _dress(
    canvas: np.ndarray, garments: list[Garment], body: Body, kept: list[float]
) -> list[np.ndarray]:
    """Draw every garment on the body, in order; the alpha each one drew (uint8 layers).
    `kept` gets each garment's share of its length inside the frame (`length_kept`)."""
    layers = []
    kept.clear()
    for garment in garments:
        layer = np.zeros(canvas.shape[:2], np.uint8)
        if garment.kind == "shoes":
            _place_shoes(canvas, garment, body, layer)
            kept.append(1.0)  # a pair of shoes has no length to lose
        elif garment.kind == "bottom":
            kept.append(_place_bottom(canvas, garment, body, layer))
        else:
            kept.append(_place_upper(canvas, garment, body, layer))
        layers.append(layer)
    return layers


def _dressed(
    backdrop: np.ndarray, identity: np.ndarray, garments: list[Garment],
    rng: np.random.Generator, warnings: list[str], kept: list[float],
) -> tuple[np.ndarray, Body, list[PlacementMeasures]]:  # fmt: skip
    """The dressed canvas, its body and each garment's measures: on the identity's own body
    when it can be, unless its own clothes would show where the new ones go (then, like a body
    cut by the frame, on a mannequin with the identity's head, saying why)."""
    kinds = {g.kind for g in garments}
    canvas = backdrop.copy()
    body = _identity_body(canvas, identity, kinds, rng, warnings)
    if body is not None:
        placements = placement.measure(body, garments, _dress(canvas, garments, body, kept))
        if not any(p.shows_through for p in placements):
            return canvas, body, placements
        warnings.append(
            "the identity's own clothes would show beside or under the new garments; dressed a "
            "body template with the identity's head instead"
        )
        canvas = backdrop.copy()
    body = _template(canvas, identity, kinds, rng)
    return canvas, body, placement.measure(body, garments, _dress(canvas, garments, body, kept))


def render_flat_to_model(spec: FlatSpec, model_used: str) -> EngineOutput:
    """Render one flat-to-model output, exactly `spec.width` x `spec.height` pixels."""
    if spec.width < 16 or spec.height < 16:
        raise EngineError(f"Output size {spec.width}x{spec.height} is too small.")
    rng = np.random.default_rng([spec.seed & 0xFFFFFFFF, spec.variation])
    warnings = instruction_warnings(spec.instruction)
    factor = min(1.0, _WORK_LONG_EDGE / max(spec.width, spec.height))
    work_w, work_h = max(16, round(spec.width * factor)), max(16, round(spec.height * factor))

    background_text = design_text(spec.instruction.get("background"))
    colour, style, understood = parse_background(background_text)
    if background_text and not understood:
        warnings.append(
            f"background '{background_text}' not supported: the local engine renders studio and "
            "plain-colour backdrops; used a light grey studio backdrop"
        )
    backdrop = render_background(work_w, work_h, colour, style, rng)

    named = _garments(spec, warnings)
    garments = [garment for garment, _ in named]
    identity = np.ascontiguousarray(np.asarray(spec.identity.convert("RGB")))
    kept: list[float] = []
    canvas, body, placements = _dressed(backdrop, identity, garments, rng, warnings, kept)
    verdicts = _placement_verdicts(named, placements, warnings)
    _refuse_shortened(named, kept)

    if (work_w, work_h) != (spec.width, spec.height):
        canvas = cv2.resize(canvas, (spec.width, spec.height), interpolation=cv2.INTER_CUBIC)
    image = Image.fromarray(canvas)
    if spec.add_ai_watermark:
        image = add_ai_watermark(image)
    return EngineOutput(
        image=image,
        model_used=model_used,
        quality_score=_quality(garments, body, warnings, verdicts),
        warnings=warnings,
        metadata={
            "body": body.source,
            "base_layer": body.base_layer,
            "garments": [
                {
                    "name": name,
                    "kind": g.kind,
                    "kind_source": g.kind_source,
                    "layer": g.layer,
                    "cutout": g.cutout.as_dict(),
                    "placement": measures.as_dict(),
                    "length_kept": round(share, 4),
                }
                for (g, name), measures, share in zip(named, placements, kept, strict=True)
            ],
            "background": {"colour": list(colour), "style": style},
            "render_size": [work_w, work_h],
            # A drawn body in flat garments: delivered as a layout preview
            # (server/pipeline/delivery).
            "layout_preview": True,
        },
    )


def _refuse_shortened(named: list[tuple[Garment, str]], kept: list[float]) -> None:
    for (garment, name), share in zip(named, kept, strict=True):
        if 1.0 - share > MAX_LENGTH_LOST:
            raise EngineError(
                f"{name}: the frame would cut {1.0 - share:.0%} of the {garment.kind}'s length "
                "(at most 10 % may go); ask for a full-body framing or a taller aspect ratio"
            )


def _placement_verdicts(
    named: list[tuple[Garment, str]], placements: list[PlacementMeasures], warnings: list[str]
) -> list[Verdict]:
    """Every garment's verdict (cut-out and placement together); a garment that did not make
    it onto the body fails the output, a doubtful one is a warning."""
    verdicts: list[Verdict] = []
    for (garment, name), measures in zip(named, placements, strict=True):
        verdict, reasons = measures.findings()
        if verdict == "lost":
            over = [n for g, n in named if g.layer > garment.layer]
            advice = (
                f" The local engine draws {', '.join(over)} closed over it: send the "
                f"{garment.kind} in an instruction of its own, or use a generative engine."
                if over and measures.hidden
                else ""
            )
            raise EngineError(
                f"{name}: the {garment.kind} did not make it onto the body "
                f"({'; '.join(reasons)}).{advice}"
            )
        if verdict == "doubtful":
            warnings.append(f"{name}: the {garment.kind} may be drawn wrong ({'; '.join(reasons)})")
        verdicts += [verdict, garment.cutout.findings()[0]]
    return verdicts


def _quality(
    garments: list[Garment], body: Body, warnings: list[str], verdicts: list[Verdict]
) -> float:
    """A rough confidence: garments recognised by note or name and a real body score higher;
    each instruction field that could not be honoured lowers it; and it is never more than the
    garment measures allow (`quality.garments.garment_score`: low for a doubtful garment)."""
    known = np.mean([1.0 if g.kind_source != "shape" else 0.6 for g in garments])
    score = 0.55 * known + (0.35 if body.source == "identity" else 0.25)
    score = min(score - 0.05 * len(warnings), garment_score(verdicts))
    return round(float(np.clip(score, 0.05, 1.0)), 4)
