"""Flat-to-model: dress a body (the identity's, or a mannequin with the identity's head) in
every garment of the job, on a backdrop built from the instruction, at the exact output size."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from vestis.engines.base import EngineError, EngineOutput, FlatSpec
from vestis.engines.local import garments as garment_mod
from vestis.engines.local import sleeves as sleeve_mod
from vestis.engines.local.backdrop import parse_background, render_background
from vestis.engines.local.body import Body, identity_body, template_body, visible
from vestis.engines.local.compose import paste_affine, similarity
from vestis.engines.local.faces import ContentCache, body_landmarks, content_key, find_face
from vestis.engines.local.garments import Garment, span_at
from vestis.engines.local.instructions import design_text, instruction_warnings
from vestis.engines.local.watermark import add_ai_watermark

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


def _place_upper(canvas: np.ndarray, g: Garment, body: Body) -> None:
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
            sleeve_mod.warp_along_arm(canvas, sleeve, arm, scale, matrix)
    paste_affine(canvas, rgba, matrix)


def _place_bottom(canvas: np.ndarray, g: Garment, body: Body) -> None:
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
    paste_affine(canvas, g.rgba, similarity(scale, 0.0, ((left + right) / 2, 0.0), dst, scale_y))


def _place_shoes(canvas: np.ndarray, g: Garment, body: Body) -> None:
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
        paste_affine(canvas, np.ascontiguousarray(piece), similarity(scale, 0.0, src, dst))


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


def _garments(spec: FlatSpec, warnings: list[str]) -> list[Garment]:
    prepared: list[Garment] = []
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
        prepared.append(garment)
    if not prepared:
        raise EngineError(
            "No garment could be cut out of the images: flat-to-model needs flat-lay or packshot "
            "photos on a plain, light background."
        )
    return sorted(prepared, key=lambda g: g.layer)


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


def _body(
    canvas: np.ndarray, identity: np.ndarray, kinds: set[str], rng: np.random.Generator,
    warnings: list[str],
) -> Body:  # fmt: skip
    landmarks = body_landmarks(identity)
    face = find_face(identity)
    if landmarks is not None and visible(landmarks, (11, 12, 23, 24)):
        needed = tuple(sorted({i for kind in kinds for i in _NEEDS[kind]}))
        if _arms_across_torso(landmarks):
            warnings.append(
                "the identity's arms are in front of the body (crossed or raised), so garments "
                "cannot be laid on it; dressed a body template with the identity's head instead"
            )
        elif visible(landmarks, needed):
            try:
                return identity_body(canvas, identity, landmarks, rng)
            except ValueError:
                pass
        else:
            warnings.append(
                "the identity image does not show the whole body these garments need; dressed "
                "a body template with the identity's head instead"
            )
    if face is None:
        raise EngineError(
            "No face found in the identity image: flat-to-model needs an identity photo with a "
            "visible face (or a full body)."
        )
    base_layer = (not kinds & {"top", "dress"}, not kinds & {"bottom", "dress"})
    body = template_body(canvas, identity, face, rng, base_layer)
    body.base_layer = [name for name, on in zip(("tee", "trousers"), base_layer, strict=True) if on]
    return body


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
    canvas = render_background(work_w, work_h, colour, style, rng)

    garments = _garments(spec, warnings)
    identity = np.ascontiguousarray(np.asarray(spec.identity.convert("RGB")))
    body = _body(canvas, identity, {g.kind for g in garments}, rng, warnings)
    for garment in garments:
        if garment.kind == "shoes":
            _place_shoes(canvas, garment, body)
        elif garment.kind == "bottom":
            _place_bottom(canvas, garment, body)
        else:
            _place_upper(canvas, garment, body)

    if (work_w, work_h) != (spec.width, spec.height):
        canvas = cv2.resize(canvas, (spec.width, spec.height), interpolation=cv2.INTER_CUBIC)
    image = Image.fromarray(canvas)
    if spec.add_ai_watermark:
        image = add_ai_watermark(image)
    return EngineOutput(
        image=image,
        model_used=model_used,
        quality_score=_quality(garments, body, warnings),
        warnings=warnings,
        metadata={
            "body": body.source,
            "base_layer": body.base_layer,
            "garments": [
                {"kind": g.kind, "kind_source": g.kind_source, "layer": g.layer} for g in garments
            ],
            "background": {"colour": list(colour), "style": style},
            "render_size": [work_w, work_h],
        },
    )


def _quality(garments: list[Garment], body: Body, warnings: list[str]) -> float:
    """A rough confidence: garments recognised by note or name and a real body score higher;
    each instruction field that could not be honoured lowers it."""
    known = np.mean([1.0 if g.kind_source != "shape" else 0.6 for g in garments])
    score = 0.55 * known + (0.35 if body.source == "identity" else 0.25)
    return round(float(np.clip(score - 0.05 * len(warnings), 0.05, 1.0)), 4)
