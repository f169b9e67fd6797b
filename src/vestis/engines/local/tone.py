"""Colour, lighting and grain of the new face: the identity's features in the target's light.

Everything here works on the face region (an RGB crop and a weight mask of the same size) and
never looks outside the mask's support for anything it writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Face-mesh points of the features whose full detail makes the identity: eyes, brows, lips.
FEATURES = [
    [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246],
    [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466],
    [70, 63, 105, 66, 107, 55, 65, 52, 53, 46],
    [300, 293, 334, 296, 336, 285, 295, 282, 283, 276],
    [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185],
]
#: Largest colour departure (Lab a, b) of the identity's skin from its mean that is kept.
SKIN_CHROMA_SPREAD = 1.5
#: Share of the identity's fine skin relief (wrinkles, folds, shadows of its own light) kept on
#: the skin between the features.
SKIN_DETAIL_KEEP = 0.5


def to_lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def to_rgb(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def blur(channel: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; a wide one is done on a smaller copy (the same result to a fraction of a
    level, at a fraction of the time on a large face)."""
    factor = sigma / 4.0
    h, w = channel.shape[:2]
    if factor < 2.0 or min(h, w) / factor < 8:
        return cv2.GaussianBlur(channel, (0, 0), sigma)
    small = cv2.resize(channel, (max(1, round(w / factor)), max(1, round(h / factor))),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    small = cv2.GaussianBlur(small, (0, 0), 4.0)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def masked_blur(channel: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of `channel` that averages only over `mask` (normalised convolution)."""
    weight = blur(mask, sigma) + 1e-6
    return blur(channel * mask, sigma) / weight


def feature_weight(
    shape: tuple[int, int], points: np.ndarray, eye: float, rings: list[list[int]] = FEATURES
) -> np.ndarray:
    """1 on and just around the eyes, brows and lips (at `points`, mesh points in the region's
    pixels; or the `rings` given), fading to 0 over the skin between them."""
    mask = np.zeros(shape, dtype=np.uint8)
    for ring in rings:
        hull = cv2.convexHull(np.round(points[ring]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
    radius = max(1, int(eye * 0.06))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    mask = cv2.dilate(mask, disc)
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(0.8, eye * 0.04))


def skin_pixels(lightness: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Face pixels of middle lightness: skin, without eyes, brows, nostrils and highlights."""
    lo, hi = np.percentile(lightness[sel], [25, 97])
    return sel & (lightness > lo) & (lightness < hi)


def skin_likeness(lab: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """0..1 per pixel of `lab`: how well its colour fits the skin `samples` (Lab rows): chroma
    within the samples' spread, lightness from a little darker than their shadows to their
    highlights. Hair, brows, background and fabric fall off."""
    lo, hi = np.percentile(samples[:, 0], [5, 98])
    chroma = samples[:, 1:]
    cov = np.cov(chroma.T) + np.eye(2) * 4.0  # floor: a very even face must not give a needle
    diff = lab[..., 1:] - chroma.mean(axis=0)
    dist = np.sqrt(np.einsum("...i,ij,...j->...", diff, np.linalg.inv(cov), diff))
    weight = np.clip((3.5 - dist) / 1.5, 0.0, 1.0)
    lightness = lab[..., 0]
    weight *= np.clip((lightness - (lo - 20)) / 8.0, 0.0, 1.0)
    weight *= np.clip((hi + 12 - lightness) / 8.0, 0.0, 1.0)
    return weight.astype(np.float32)


def skin_mean_lab(rgb: np.ndarray, sel: np.ndarray) -> np.ndarray:
    lab = to_lab(rgb)[sel]
    if len(lab) == 0:
        return np.zeros(3, dtype=np.float32)
    lo, hi = np.percentile(lab[:, 0], [15, 90])
    keep = (lab[:, 0] >= lo) & (lab[:, 0] <= hi)  # leaves out eyes, brows, nostrils, highlights
    return lab[keep].mean(axis=0) if keep.any() else lab.mean(axis=0)


def soft_ceiling(lightness: np.ndarray, ceiling: float, width: float = 4.0) -> np.ndarray:
    """Compress values above `ceiling - width` smoothly so that none exceed `ceiling`."""
    knee = ceiling - width
    over = lightness - knee
    return np.where(over > 0, knee + width * np.tanh(over / width), lightness)


def suppress_highlights(lab: np.ndarray, sel: np.ndarray, sigma: float) -> np.ndarray:
    """Limit how far the identity's skin departs from its local average: bright peaks (specular
    highlights on nose and forehead) and off-colour specks (background or hair caught at the
    face's edge) are the identity photo's lighting and framing, not its skin, and turn into
    grey or blue blotches once the colour is matched to another face. Dark features (eyes,
    brows, lips) keep their full contrast."""
    mask = sel.astype(np.float32)
    out = lab.copy()
    smooth_l = masked_blur(lab[..., 0], mask, sigma)
    out[..., 0] = smooth_l + soft_ceiling(lab[..., 0] - smooth_l, 8.0, 5.0)
    for c in (1, 2):
        smooth = masked_blur(lab[..., c], mask, sigma)
        out[..., c] = smooth + np.clip(lab[..., c] - smooth, -4.0, 4.0)
    return out


def _whites(lab: np.ndarray, features: np.ndarray, core: np.ndarray, margin: float) -> np.ndarray:
    """Weight (0..1) of the whites of the eyes and the teeth: in the features, lighter than
    the face's skin by `margin` and more, and nearly colourless."""
    skin = (core > 0.5) & (features < 0.05)
    if skin.sum() < 16:
        return np.zeros(features.shape, dtype=np.float32)
    level = float(np.median(lab[..., 0][skin]))
    light = np.clip((lab[..., 0] - level - margin) / 6.0, 0.0, 1.0)
    grey = np.clip((20.0 - np.hypot(lab[..., 1], lab[..., 2])) / 8.0, 0.0, 1.0)
    return (features * light * grey).astype(np.float32)


def _white_balance_whites(
    out: np.ndarray, src: np.ndarray, ref: np.ndarray, masks: FaceMasks
) -> np.ndarray:
    """Teeth and eye whites take the target photo's white balance (the colour of its own eye
    whites and teeth), not their offset from the identity's skin moved onto the target's skin
    (a cool-lit identity's teeth turned blue)."""
    mine = _whites(src, masks.features, masks.core, 10.0)
    theirs = _whites(ref, masks.target_features, masks.core, 3.0)
    if (mine > 0.5).sum() < 10 or (theirs > 0.5).sum() < 10:
        return out
    for c in (1, 2):
        own = float(np.average(src[..., c], weights=mine))
        white = float(np.average(ref[..., c], weights=theirs))
        balanced = white + 0.5 * (src[..., c] - own)
        out[..., c] = mine * balanced + (1.0 - mine) * out[..., c]
    return out


@dataclass(frozen=True)
class FaceMasks:
    """Weights over the face region: where the new face goes and where the features are."""

    core: np.ndarray  # the blend weight
    features: np.ndarray  # eyes, brows and lips of the new face (`feature_weight`)
    lips: np.ndarray  # the new face's lips alone
    target_features: np.ndarray  # eyes, brows and lips of the target's own face
    nose: np.ndarray  # the new face's nose (ridge, tip and wings)
    tone_ramp: np.ndarray  # how much of a tone change each pixel takes (fades at the outline)


def _match_statistics(src: np.ndarray, ref: np.ndarray, masks: FaceMasks) -> np.ndarray:
    """Lab mean and spread of the face moved to the target's, both measured on skin (each
    face's own features left out: a target's glasses or wrinkles are not its light)."""
    sel = masks.core > 0.5
    src_skin = sel & (masks.features < 0.05)
    ref_skin = sel & (masks.target_features < 0.05)
    if src_skin.sum() < 16 or ref_skin.sum() < 16:
        src_skin = ref_skin = sel
    out = np.empty_like(src)
    for c in range(3):
        s_mean = float(src[..., c][sel].mean())
        r_mean = float(ref[..., c][sel].mean())
        s_std = float(src[..., c][src_skin].std()) + 1e-3
        r_std = float(ref[..., c][ref_skin].std()) + 1e-3
        # The identity's contrast, within a fifth of the target's. Colour is never stronger
        # than the identity's own (white teeth would turn blue) and fades to nothing on a
        # colourless (black-and-white) photo.
        floor = 0.8 if c == 0 else 0.8 * min(1.0, (r_std - 1e-3) / 2.0)
        ratio = float(np.clip(r_std / s_std, floor, 1.2 if c == 0 else 1.0))
        deviation = (src[..., c] - s_mean) * ratio
        if c > 0:
            # On the skin, only the identity's small colour variations, halved: its eye
            # sockets, shaved chin and the casts of its own light go grey or green once moved
            # to another skin tone. The lips keep theirs.
            skin = np.clip(deviation * 0.5, -SKIN_CHROMA_SPREAD, SKIN_CHROMA_SPREAD)
            deviation = masks.lips * deviation + (1.0 - masks.lips) * skin
        out[..., c] = deviation + r_mean
    return out


def match_colour(
    warped: np.ndarray, target: np.ndarray, masks: FaceMasks, eye: float, shading: float
) -> np.ndarray:
    """Bring the warped identity close to the target: Lab mean and spread of the skin, the
    target's broad lighting and colour cast, softened skin relief, and no highlight brighter
    than the target's."""
    core, features = masks.core, masks.features
    src, ref = to_lab(warped), to_lab(target)
    sel = core > 0.5
    if sel.sum() < 16:
        return warped
    # Highlights are flattened on the skin only: the whites of the eyes and the teeth are
    # meant to be brighter than skin (flattened, a smile turns into a white blob).
    keep = features[..., None]
    src = keep * src + (1.0 - keep) * suppress_highlights(src, sel, eye * 0.2)
    mask = core.astype(np.float32)
    out = _match_statistics(src, ref, masks)
    out = _white_balance_whites(out, src, ref, masks)
    # Only the broad light of the target (one side brighter, a darker chin) replaces the
    # identity's, measured on each face's skin: finer target shading lies where the target's
    # own nose and eye sockets are, and its teeth would light up the new closed mouth.
    sigma = eye * 0.6
    ref_light = masked_blur(ref[..., 0], mask * (1.0 - masks.target_features), sigma)
    lighting = ref_light - masked_blur(out[..., 0], mask * (1.0 - features), sigma)
    out[..., 0] += shading * lighting
    out[..., 0] = _flatten_side_light(
        out[..., 0], mask * (1.0 - np.maximum(features, masks.nose)), eye
    )
    out[..., 0] = soften_skin_detail(out[..., 0], ref[..., 0], sel, features, eye * 0.1)
    ref_skin = skin_pixels(ref[..., 0], sel).astype(np.float32)
    out_skin = skin_pixels(out[..., 0], sel).astype(np.float32)
    for c in (1, 2):
        cast = masked_blur(ref[..., c], ref_skin, sigma) - masked_blur(out[..., c], out_skin, sigma)
        out[..., c] += 0.8 * (cast - float(cast[sel].mean()))
    ceiling = soft_ceiling(out[..., 0], float(np.percentile(ref[..., 0][sel], 99)))
    # Teeth, eye whites and glints may be brighter than skin, not brighter than the target's
    # own (a bright smile in a soft, low-contrast photo glows).
    bright = masks.target_features > 0.5
    top = float(np.percentile(ref[..., 0][bright], 99.5)) if bright.sum() > 16 else 100.0
    feature_ceiling = soft_ceiling(
        out[..., 0], max(top, float(np.percentile(ref[..., 0][sel], 99))) + 3.0
    )
    out[..., 0] = features * feature_ceiling + (1.0 - features) * ceiling
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    return to_rgb(out)


#: Share of the identity's mid-scale skin shading (its own side light on cheeks and temples)
#: that is flattened.
SIDE_LIGHT_FLATTEN = 0.5


def _flatten_side_light(lightness: np.ndarray, skin: np.ndarray, eye: float) -> np.ndarray:
    """Half the identity's own shading on the skin at the scale of a cheek or a temple (a
    side-lit identity's shadowed cheek and bright temple turn into grey and white patches in
    the target's flat studio light). Finer relief and the broad light are left alone, and so
    are the features and the nose (`skin` is 0 there), which carry the face's shape."""
    mid = masked_blur(lightness, skin, eye * 0.2) - masked_blur(lightness, skin, eye * 0.6)
    return lightness - SIDE_LIGHT_FLATTEN * skin * mid


def soften_skin_detail(
    lightness: np.ndarray,
    ref: np.ndarray,
    sel: np.ndarray,
    features: np.ndarray,
    sigma: float,
) -> np.ndarray:
    """An older or side-lit identity's wrinkles and folds look harsh on a smooth catalogue
    face: on the skin (not eyes, brows, lips), the identity's fine relief is brought to the
    level of the target skin's own, never below `SKIN_DETAIL_KEEP` of it, and its deepest
    lines (a crease several times deeper than the target skin's relief) are flattened
    further, smoothly."""
    mask = sel.astype(np.float32)
    own = lightness - masked_blur(lightness, mask, sigma)
    theirs = ref - masked_blur(ref, mask, sigma)
    skin = sel & (features < 0.05)
    if skin.sum() < 16:
        return lightness
    spread = float(theirs[skin].std())
    level = float(np.clip(spread / (own[skin].std() + 1e-3), SKIN_DETAIL_KEEP, 1.0))
    limit = max(4.0 * spread, 6.0)
    relief = limit * np.tanh(level * own / limit)
    kept = features * own + (1.0 - features) * relief
    return lightness - own + kept


def grain(lightness: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """The finest detail of a lightness channel: sensor grain, pores, hair-thin edges."""
    return lightness - cv2.GaussianBlur(lightness, (0, 0), sigma)


def match_grain(
    face: np.ndarray, target: np.ndarray, skin: np.ndarray, new_skin: np.ndarray
) -> np.ndarray:
    """Give the new face's skin the target photo's grain. A noisier identity photo (high ISO,
    JPEG speckle) has its own finest detail turned down to the target's level; a softer one
    (upscaled, or from a blurred photo) gets fine noise of the target grain's strength (its
    typical size on the target's skin, edges left out). Noise, not the target's own grain at
    the same place: that would carry the target's fine lines and pores back onto the new face.
    `skin`: target skin away from its features; `new_skin`: skin of the new face."""
    lab_face, lab_target = to_lab(face), to_lab(target)
    mine, theirs = grain(lab_face[..., 0]), grain(lab_target[..., 0])
    if skin.sum() < 32 or new_skin.sum() < 32:
        return face
    want = (1.4826 * float(np.median(np.abs(theirs[skin])))) ** 2 + 1e-6
    have = (1.4826 * float(np.median(np.abs(mine[new_skin])))) ** 2 + 1e-6
    weight = cv2.GaussianBlur(new_skin.astype(np.float32), (0, 0), 1.5)
    if want < have:
        lab_face[..., 0] -= weight * (1.0 - np.sqrt(want / have)) * mine
    else:
        noise = grain(np.random.default_rng(0).normal(0.0, 1.0, mine.shape).astype(np.float32))
        noise *= float(np.sqrt(want - have)) / (float(noise.std()) + 1e-6)
        lab_face[..., 0] += weight * noise
    lab_face[..., 0] = np.clip(lab_face[..., 0], 0, 100)
    return to_rgb(lab_face)


def laplacian_variance(rgb: np.ndarray, sel: np.ndarray) -> float:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F)[sel].var()) if sel.any() else 0.0


def match_sharpness(
    face: np.ndarray,
    target: np.ndarray,
    inner: np.ndarray,
    weight: np.ndarray,
    enlarged: float = 1.0,
) -> np.ndarray:
    """The new face as crisp as the photo around it. A softer one (an identity photo of lower
    resolution, or out of focus) is sharpened (an unsharp mask on lightness, by `weight`:
    eyes, brows, lips, nose) until its inner face is about as crisp as the target's was; an
    identity face `enlarged` by a factor has lost detail at that factor's scale, so the mask
    works at that scale. A much crisper one (a sharp portrait in a soft photo) is softened
    a little, so that it does not look pasted on."""
    before = laplacian_variance(target, inner)
    now = laplacian_variance(face, inner)
    if before <= 0:
        return face
    if now > _SHARPER_AT_MOST * before:
        return _soften(face, inner, _SHARPER_AT_MOST * before)
    goal = 0.9 * before
    if now >= goal:
        return face
    lab = to_lab(face)
    detail = lab[..., 0] - cv2.GaussianBlur(lab[..., 0], (0, 0), 1.2 * max(1.0, enlarged))
    best = face
    # Strong masks only for an enlarged face: one that is merely less textured than a grainy
    # or wrinkled target would get dark halos (gaps between teeth turn into holes).
    for amount in (0.5, 1.0, 1.6, 2.4) if enlarged >= 1.5 else (0.5, 1.0):
        lab_try = lab.copy()
        lab_try[..., 0] = np.clip(lab[..., 0] + amount * weight * detail, 0, 100)
        best = to_rgb(lab_try)
        if laplacian_variance(best, inner) >= goal:
            break
    return best


#: How much crisper (Laplacian variance of the inner face) than the photo the new face may be.
_SHARPER_AT_MOST = 1.1


def _soften(face: np.ndarray, inner: np.ndarray, goal: float) -> np.ndarray:
    """The lightest of a few small Gaussian blurs that brings the face down to `goal`."""
    best = face
    for sigma in (0.5, 0.7, 0.9, 1.2, 1.6, 2.0):
        best = cv2.GaussianBlur(face, (0, 0), sigma)
        if laplacian_variance(best, inner) <= goal:
            break
    return best


def tone_gap(warped: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Identity skin chroma minus target skin chroma (Lab a, b) inside the face."""
    return (skin_mean_lab(warped, alpha > 0.9) - skin_mean_lab(target, alpha > 0.9))[1:]


def shift_tone(rgb: np.ndarray, alpha: np.ndarray, shift_ab: np.ndarray) -> np.ndarray:
    """Move the face's chroma by `shift_ab`, fully inside and fading with the blend weight."""
    lab = to_lab(rgb)
    lab[..., 1:] += alpha[..., None] * shift_ab.astype(np.float32)
    return to_rgb(lab)
