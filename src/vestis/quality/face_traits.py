"""What a face shows, read from its face mesh and its pixels: head pose, mouth and eyes open,
teeth, glasses frames, facial hair, and how even its skin is. Figures are on a face normalised
to 100 px between the outer eye corners, so they compare across photos of any size.

Used on an identity photo (what a swap will carry over), and on an output beside its original
photo (what a swap added that the photo did not have).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from vestis.quality.mesh import mesh_in_crop

Box = tuple[int, int, int, int]

#: Normalised face: outer eye corners 100 px apart, on a horizontal line, at (±50, 0) of the
#: centre of a canvas this size.
_SIDE = 320
_CX, _CY = 160, 130
_EYES = (33, 263)
#: Glasses (see `wears_glasses`): frame edges along the bridge and lower rims (`glasses`; faces
#: without glasses 1.4-4.9, with 5.6-18) or a frame's bridge alone (`frames`; without 0.3-2.8,
#: with 7.2-19.5) or lens outlines around the eyes (`rims`; without 2.0-8.2, with 14.6-36), on
#: the 30 faces of the development photos and the two sample portraits.
GLASSES_AT = 6.0
FRAMES_AT = 5.0
RIMS_AT = 11.0
#: Mesh points: eye openings (ordered contours), inner lips (ordered), brows, nostrils.
RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
INNER_LIPS = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178,
              88, 95]  # fmt: skip
OUTER_LIPS = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181,
              91, 146]  # fmt: skip
BROWS = [
    [70, 63, 105, 66, 107, 55, 65, 52, 53, 46],
    [300, 293, 334, 296, 336, 285, 295, 282, 283, 276],
]
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
             109]  # fmt: skip


@dataclass
class FaceTraits:
    """One face's traits (see the module's docstring for the scale)."""

    yaw: float  # -1..1: 0 frontal, ±0.5 three-quarter, ±1 profile
    roll: float  # degrees the eye line is tilted
    mouth_open: float  # inner-lip gap over mouth width
    teeth: float  # share of the mouth opening that is bright and colourless
    eyes_open: float  # eyelid gap over eye width (mean of both eyes)
    smile: float  # mouth width over the outer eye-corner distance
    glasses: float  # density of frame-like edges on the nose bridge and under the eyes
    frames: float  # the strongest horizontal edge across the upper nose bridge (a frame's bridge)
    rims: float  # how sharp the edges are on a ring around each eye (lens outlines)
    facial_hair: float  # how much darker and rougher the upper lip and chin are than the cheeks
    blotches: float  # share of the skin whose colour departs from the skin around it
    eye_shadow: float  # how much darker the rings around the eyes are than the cheeks (L*)
    marks: float  # share of the forehead and cheeks crossed by thin dark marks (brow pieces)
    eye_px: float  # the eye-corner distance in the photo, in pixels

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def traits_at(rgb: np.ndarray, box: Box) -> tuple[FaceTraits, np.ndarray] | None:
    """The traits of the face in `box` (any detector's box) and its mesh points, or None when
    the mesh finds no face there."""
    points = mesh_in_crop(rgb, box)
    if points is None:
        return None
    return traits(rgb, points[:, :2]), points[:, :2]


def normalised(rgb: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The face on the normalised canvas, and its mesh points there."""
    a, b = points[_EYES[0]].astype(np.float64), points[_EYES[1]].astype(np.float64)
    if a[0] > b[0]:
        a, b = b, a
    d = b - a
    scale = 100.0 / max(float(np.hypot(*d)), 1e-3)
    angle = np.degrees(np.arctan2(d[1], d[0]))
    centre = (a + b) / 2
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(angle), scale)
    m[:, 2] += np.array([_CX, _CY]) - centre
    canvas = cv2.warpAffine(rgb, m, (_SIDE, _SIDE), flags=cv2.INTER_AREA,
                            borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    moved = np.column_stack([points, np.ones(len(points))]) @ m.T
    return canvas, moved


def _poly(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask > 0


def skin_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    """The face's skin on the canvas: inside the outline, less eyes, brows, lips and nostrils
    (with a margin), and less the forehead's top (hair lines)."""
    face = _poly(shape, pts[FACE_OVAL])
    out = np.zeros(shape, np.uint8)
    for group in (RIGHT_EYE, LEFT_EYE, OUTER_LIPS, *BROWS):
        cv2.fillPoly(
            out, [np.round(cv2.convexHull(pts[group].astype(np.float32))).astype(np.int32)], 1
        )
    nose = pts[[98, 327, 2, 94, 97, 326]]
    cv2.fillPoly(out, [np.round(cv2.convexHull(nose.astype(np.float32))).astype(np.int32)], 1)
    out = cv2.dilate(out, np.ones((9, 9), np.uint8))
    brow_top = float(pts[[105, 334], 1].min())
    rows = np.arange(shape[0])[:, None]
    return face & (out == 0) & (rows > brow_top - 25)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _box_mask(shape: tuple[int, int], x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[max(int(y0), 0) : max(int(y1), 0), max(int(x0), 0) : max(int(x1), 0)] = True
    return m


def traits(rgb: np.ndarray, points: np.ndarray) -> FaceTraits:
    """The traits of the face whose mesh is `points` (478 or 468, x and y in pixels)."""
    canvas, pts = normalised(rgb, points)
    lab = _lab(canvas)
    light = lab[..., 0]
    shape = light.shape
    skin = skin_mask(shape, pts)
    eye_px = float(np.linalg.norm(points[_EYES[0]] - points[_EYES[1]]))
    dl = abs(pts[1, 0] - pts[234, 0])
    dr = abs(pts[454, 0] - pts[1, 0])
    yaw = float((dl - dr) / max(dl + dr, 1e-3))
    a, b = points[_EYES[0]], points[_EYES[1]]
    if a[0] > b[0]:
        a, b = b, a
    roll = float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
    width = max(float(np.linalg.norm(pts[61] - pts[291])), 1e-3)
    mouth_open = float(np.linalg.norm(pts[13] - pts[14])) / width
    mouth = _poly(shape, pts[INNER_LIPS])
    teeth = 0.0
    if mouth.sum() > 12 and skin.sum() > 50:
        chroma = np.hypot(lab[..., 1], lab[..., 2])
        skin_l = float(np.median(light[skin]))
        bright = (light > skin_l + 3) & (chroma < float(np.median(chroma[skin])) * 0.6)
        teeth = float(bright[mouth].mean()) * min(1.0, mouth.sum() / 40.0)
    eyes = []
    for contour, top, bottom in ((RIGHT_EYE, 159, 145), (LEFT_EYE, 386, 374)):
        w = max(float(np.linalg.norm(pts[contour[0]] - pts[contour[8]])), 1e-3)
        eyes.append(float(np.linalg.norm(pts[top] - pts[bottom])) / w)
    return FaceTraits(
        yaw=yaw,
        roll=roll,
        mouth_open=mouth_open,
        teeth=teeth,
        eyes_open=float(np.mean(eyes)),
        smile=width / 100.0,
        glasses=_glasses(light, pts),
        frames=_frame_bridge(light, pts),
        rims=_rims(light, pts),
        facial_hair=_facial_hair(light, pts, skin),
        blotches=_blotches(lab, skin),
        eye_shadow=_eye_shadow(light, pts, skin),
        marks=_marks(light, skin),
        eye_px=eye_px,
    )


def _glasses(light: np.ndarray, pts: np.ndarray) -> float:
    """Frames: horizontal edges across the nose bridge (between the inner eye corners, above
    the nose) and along the lower rims (below each eye, above the cheekbone), where skin has
    none. Mean strength of the strongest row profile, in L* per pixel."""
    gy = np.abs(cv2.Sobel(cv2.GaussianBlur(light, (0, 0), 1.0), cv2.CV_32F, 0, 1, ksize=3)) / 8
    inner_r, inner_l = pts[133], pts[362]
    eye_y = float((inner_r[1] + inner_l[1]) / 2)
    mid_x = float((inner_r[0] + inner_l[0]) / 2)
    half = abs(float(inner_l[0] - inner_r[0])) * 0.3
    bridge = gy[int(eye_y - 22) : int(eye_y + 4), int(mid_x - half) : int(mid_x + half)]
    scores = [float(bridge.mean(axis=1).max()) if bridge.size else 0.0]
    for lower in (145, 374):
        x, y = pts[lower]
        rim = gy[int(y + 8) : int(y + 26), int(x - 14) : int(x + 14)]
        scores.append(float(rim.mean(axis=1).max()) if rim.size else 0.0)
    return float(np.mean(sorted(scores)[-2:]))


def _frame_bridge(light: np.ndarray, pts: np.ndarray) -> float:
    """A frame's bridge: the strongest row of horizontal edges across the middle half of the
    nose bridge, from just above its top (mesh 168) down to mesh 6, in L* per pixel. Skin there
    is smooth (faces without glasses 1-3); a bridge of metal or plastic crosses it (9-19),
    thin or thick, whatever the lower rims do (browline frames have none)."""
    gy = np.abs(cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3)) / 8
    inner_r, inner_l = pts[133], pts[362]
    span = abs(float(inner_l[0] - inner_r[0]))
    mid_x = float((inner_r[0] + inner_l[0]) / 2)
    top, bottom = int(pts[168, 1] - 5), int(pts[6, 1]) + 1
    left, right = max(int(mid_x - span / 4), 0), int(mid_x + span / 4) + 1
    band = gy[max(top, 0) : max(bottom, 0), left:right]
    return float(band.mean(axis=1).max()) if band.size else 0.0


def _rims(light: np.ndarray, pts: np.ndarray) -> float:
    """Lens outlines: on rays from each eye's centre (below and beside it, not up into the
    brow), the sharpest change of L* between 1.15 and 2.5 eye half-widths out (a lens is
    wider than tall); the median over the rays, in L* per pixel, averaged over both eyes. A
    frame rings the eye, so most rays cross it; a wrinkle or a bag crosses a few."""
    thetas = np.radians(np.arange(-30, 211, 4, dtype=np.float32))
    scores = []
    for contour, outward in ((RIGHT_EYE, -1.0), (LEFT_EYE, 1.0)):
        centre = pts[contour].mean(axis=0)
        half = float(np.linalg.norm(pts[contour[0]] - pts[contour[8]])) / 2
        radii = np.linspace(1.15 * half, 2.5 * half, 40, dtype=np.float32)
        xs = centre[0] + np.outer(np.cos(thetas) * outward, radii) * 1.15
        ys = centre[1] + np.outer(np.sin(thetas), radii)
        rays = cv2.remap(light, xs.astype(np.float32), ys.astype(np.float32), cv2.INTER_LINEAR)
        rays = cv2.GaussianBlur(rays, (0, 0), sigmaX=0.8, sigmaY=1e-3)
        change = np.abs(np.diff(rays, axis=1)) / float(radii[1] - radii[0])
        scores.append(float(np.median(change.max(axis=1))))
    return float(np.mean(scores))


def wears_glasses(face: FaceTraits) -> bool:
    """Glasses, by either sign: frame edges along the bridge and the lower rims, or a frame's
    bridge alone. The one rule the identity photo check, the engine and the measure share."""
    return face.glasses >= GLASSES_AT or face.frames >= FRAMES_AT or face.rims >= RIMS_AT


def _facial_hair(light: np.ndarray, pts: np.ndarray, skin: np.ndarray) -> float:
    """Upper lip and chin against the cheeks: L* darker, plus fine-texture strength gained."""
    shape = light.shape
    upper = _box_mask(shape, pts[61, 0] + 4, pts[2, 1] + 3, pts[291, 0] - 4, pts[0, 1] - 2)
    chin = _box_mask(shape, pts[61, 0], pts[17, 1] + 4, pts[291, 0], pts[152, 1] - 4)
    cheeks = skin & (
        _box_mask(shape, pts[234, 0] + 8, pts[145, 1] + 18, pts[61, 0] - 6, pts[61, 1])
        | _box_mask(shape, pts[291, 0] + 6, pts[374, 1] + 18, pts[454, 0] - 8, pts[291, 1])
    )
    if cheeks.sum() < 30 or upper.sum() < 10 or chin.sum() < 10:
        return 0.0
    fine = np.abs(light - cv2.GaussianBlur(light, (0, 0), 2.0))
    cheek_l = float(np.median(light[cheeks]))
    cheek_t = float(np.median(fine[cheeks]))
    darker = max(cheek_l - float(np.median(light[upper])), cheek_l - float(np.median(light[chin])))
    rougher = max(float(np.median(fine[upper])), float(np.median(fine[chin]))) - cheek_t
    return float(max(darker, 0.0) + 4.0 * max(rougher, 0.0))


def _blotches(lab: np.ndarray, skin: np.ndarray) -> float:
    """Share of the skin that is a grey or dark patch: its local colour (a few px) has lost
    more than 40 % of the skin's typical chroma, or is more than 15 L* darker than the skin
    around it (a cheek-sized blur). Grey smears, stubble shadows, dark streaks."""
    inner = cv2.erode(skin.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    if inner.sum() < 50:
        return 0.0
    local = np.stack([cv2.GaussianBlur(lab[..., c], (0, 0), 3) for c in range(3)], -1)
    chroma = np.hypot(local[..., 1], local[..., 2])
    typical = float(np.median(chroma[inner]))
    mask = skin.astype(np.float32)
    weight = cv2.GaussianBlur(mask, (0, 0), 18) + 1e-6
    broad = cv2.GaussianBlur(lab[..., 0] * mask, (0, 0), 18) / weight
    grey = chroma < 0.6 * typical
    dark = local[..., 0] < broad - 15.0
    return float((grey | dark)[inner].mean())


def _eye_shadow(light: np.ndarray, pts: np.ndarray, skin: np.ndarray) -> float:
    """Rings around the eye openings (lids and under-eyes, not brows) against the cheeks, L*."""
    shape = light.shape
    ring = np.zeros(shape, bool)
    for contour in (RIGHT_EYE, LEFT_EYE):
        opening = _poly(shape, pts[contour])
        grown = cv2.dilate(opening.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
        ring |= grown & ~opening
    for brow in BROWS:
        hull = cv2.convexHull(pts[brow].astype(np.float32))
        ring &= ~_poly(shape, hull[:, 0, :])
    cheeks = skin & _box_mask(shape, 0, pts[145, 1] + 18, _SIDE, pts[2, 1])
    if ring.sum() < 30 or cheeks.sum() < 30:
        return 0.0
    return float(np.median(light[cheeks]) - np.median(light[ring]))


def _marks(light: np.ndarray, skin: np.ndarray) -> float:
    """Thin dark structures on the skin (a doubled brow, frame pieces, hair-edge strokes):
    share of the skin where a black-hat filter of a brow's thickness answers above 8 L*."""
    inner = cv2.erode(skin.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if inner.sum() < 50:
        return 0.0
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    hat = cv2.morphologyEx(light, cv2.MORPH_BLACKHAT, kernel)
    return float((hat[inner] > 8.0).mean())
