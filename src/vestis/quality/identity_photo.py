"""What an identity photo holds that a swap will carry over or stumble on, checked once at
upload: how many faces, glasses, facial hair, an open mouth and teeth, strong make-up, a turned
or tilted head, a small face, uneven light. Each finding has a figure, a threshold and a
sentence that says what it means for swaps and what photo would do better.

The local engine maps the identity's face onto each photo's: what is on that face (frames,
a beard, teeth, lipstick, a shadow) comes along, and a face turned away has half of itself
missing. A user told at upload can choose another photo before a catalogue is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from vestis.quality import models
from vestis.quality.face_traits import traits, wears_glasses
from vestis.quality.faces import Box, rgb_array
from vestis.quality.mesh import mesh_in_crop

#: A second detected face counts as another person when it is at least this share of the
#: largest face's width (smaller ones are faces in a poster or far behind) and this sure.
OTHER_FACE_SHARE, OTHER_FACE_SCORE = 0.35, 0.6
#: The face's width (cheek to cheek) its figures are measured at.
_FACE_WIDTH = 320.0
#: A larger photo is checked scaled down to this long edge.
_LONG_EDGE = 2048

# Face-mesh landmark indices (mediapipe's canonical face).
_CHEEK_L, _CHEEK_R, _FOREHEAD, _CHIN = 234, 454, 10, 152
_EYE_OUT_L, _EYE_OUT_R, _EYE_IN_L, _EYE_IN_R = 33, 263, 133, 362
_LIP_IN_TOP, _LIP_IN_BOTTOM, _NOSE_BOTTOM, _LIP_TOP, _LIP_BOTTOM = 13, 14, 2, 0, 17
_MOUTH_L, _MOUTH_R = 61, 291
_BRIDGE_TOP, _BRIDGE_LOW = 168, 6
#: The inner lip line, around the mouth opening.
_INNER_LIPS = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178,
               88, 95]  # fmt: skip
#: The outer lip line (lipstick shows between it and the inner one).
_OUTER_LIPS = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181,
               91, 146]  # fmt: skip
#: Cheek patches below each eye (skin the photo's light falls on), by mesh point.
_CHEEK_PATCH_L, _CHEEK_PATCH_R = 50, 280


@dataclass
class Finding:
    name: str
    message: str


@dataclass
class IdentityPhotoCheck:
    """What the identity photo showed. `findings` are what a swap will carry over or stumble
    on (empty: a clean photo); `figures` the measured values behind them."""

    faces: int
    figures: dict[str, float | None] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def names(self) -> list[str]:
        return [f.name for f in self.findings]

    def as_dict(self) -> dict[str, Any]:
        figures = {k: (None if v is None else round(float(v), 3)) for k, v in self.figures.items()}
        return {
            "faces": self.faces,
            "findings": [{"name": f.name, "message": f.message} for f in self.findings],
            "figures": figures,
        }


def face_boxes(rgb: np.ndarray) -> list[tuple[Box, float]]:
    """Every face the full-range detector finds, as pixel boxes with scores, largest first."""
    height, width = rgb.shape[:2]
    boxes = []
    for detection in models.face_locator().process(rgb).detections or []:
        rel = detection.location_data.relative_bounding_box
        box = (
            int(rel.xmin * width),
            int(rel.ymin * height),
            int((rel.xmin + rel.width) * width),
            int((rel.ymin + rel.height) * height),
        )
        if box[2] > box[0] and box[3] > box[1]:
            boxes.append((box, float(detection.score[0])))
    return sorted(boxes, key=lambda b: -(b[0][2] - b[0][0]) * (b[0][3] - b[0][1]))


def count_people(boxes: list[tuple[Box, float]]) -> int:
    """How many of the detected faces are people in the photo (see OTHER_FACE_SHARE)."""
    if not boxes:
        return 0
    widest = boxes[0][0][2] - boxes[0][0][0]
    others = [
        b for b, score in boxes[1:]
        if score >= OTHER_FACE_SCORE and (b[2] - b[0]) >= OTHER_FACE_SHARE * widest
    ]  # fmt: skip
    return 1 + len(others)


def mesh_points(rgb: np.ndarray, box: Box) -> np.ndarray | None:
    """The face mesh around `box` (`quality.mesh`, as the engine and the realism measure see
    the face): (478, 3) x, y, depth in image pixels."""
    points = mesh_in_crop(rgb, box)
    return None if points is None else points.astype(np.float64)


def head_pose(points: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch and roll in degrees from the mesh's own depth: the cheek-to-cheek line turns
    with yaw and tilts with roll, the forehead-to-chin line leans with pitch."""
    across = points[_CHEEK_R] - points[_CHEEK_L]
    down = points[_CHIN] - points[_FOREHEAD]
    yaw = np.degrees(np.arctan2(across[2], np.hypot(across[0], across[1])))
    roll = np.degrees(np.arctan2(across[1], across[0]))
    pitch = np.degrees(np.arctan2(-down[2], np.hypot(down[0], down[1])))
    return float(yaw), float(pitch), float(roll)


def _mask(shape: tuple[int, ...], points: np.ndarray, shrink: float = 0.0) -> np.ndarray:
    """A filled polygon, optionally pulled `shrink` of the way towards its centre (away from
    the edges a landmark line sits on)."""
    centre = points.mean(axis=0)
    pts = centre + (points - centre) * (1.0 - shrink)
    mask = np.zeros(shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask.astype(bool)


def _patch(shape: tuple[int, ...], centre: np.ndarray, half: float) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    x, y, r = int(round(centre[0])), int(round(centre[1])), max(int(round(half)), 1)
    mask[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1] = True
    return mask


def _mean(values: np.ndarray, mask: np.ndarray) -> float | None:
    return float(values[mask].mean()) if mask.any() else None


# --- the checks: thresholds set by eye on real photos (`python -m benchmarks identity_photos`) --

#: Head pose the swap renders from (degrees): beyond it half the face is hidden or foreshortened.
MAX_YAW, MAX_PITCH, MAX_ROLL = 25.0, 20.0, 15.0
#: Mouth opening (inner lips apart) as a share of the face's height, and the share of the
#: opening that is teeth (bright and colourless) for "teeth shown".
OPEN_MOUTH, TEETH_SHOWN = 0.055, 0.2
#: Glasses: the strongest row of horizontal edges across the nose bridge, relative to the
#: cheeks' own texture (a frame's bridge is a line no skin has), and in grey levels.
#: Facial hair: the upper lip, chin or jaw this much darker than the cheeks.
HAIR_DARKNESS = 0.66
#: Strong lip colour: lips this much more saturated than the cheeks (Lab chroma) and this red.
LIP_CHROMA_EXCESS, LIP_REDNESS = 30.0, 45.0
#: A face narrower than this (pixels, cheek to cheek) has too few details for a sharp swap.
MIN_FACE_PX = 120.0
#: Uneven light: one cheek this many times brighter than the other.
UNEVEN_LIGHT = 1.7

MESSAGES = {
    "glasses": "wears glasses: the local engine cannot take them off, and their frames come "
    "out as broken lines on the outputs; a photo without glasses swaps cleanly",
    "facial_hair": "facial hair: it is carried onto every output, clean-shaven models and "
    "women included; a clean-shaven photo fits more catalogue photos",
    "open_mouth": "open mouth{teeth}: the swap keeps each photo's own mouth, so an open mouth "
    "blends badly into closed-mouth photos; a photo with a relaxed, closed mouth fits most",
    "lip_colour": "strong lip colour (lipstick): it comes along onto every output; a photo "
    "with natural lips fits more catalogue photos",
    "pose": "head {how}: part of the face is hidden from the camera and comes out stretched or "
    "broken; a frontal photo, looking into the lens with the head level, swaps best",
    "small_face": "small face ({px:.0f} px wide): the new faces come out soft; use a photo in "
    "which the face is at least {min:.0f} px wide",
    "uneven_light": "uneven light (one side of the face {ratio:.1f}x brighter than the other): "
    "the shadow comes along onto every output; a photo in soft, even light swaps best",
}


def check_identity_photo(image: Image.Image | np.ndarray) -> IdentityPhotoCheck:
    """What the identity photo shows; `faces` counts the people (0: no face found, the engine's
    own detector decides whether the identity is usable; 2 or more: not one person)."""
    rgb, factor = _at_most(rgb_array(image), _LONG_EDGE)
    boxes = face_boxes(rgb)
    check = IdentityPhotoCheck(faces=count_people(boxes))
    if not boxes:
        return check
    points = mesh_points(rgb, boxes[0][0])
    if points is None:
        return check
    width = float(np.linalg.norm(points[_CHEEK_R, :2] - points[_CHEEK_L, :2]))
    figures = _figures(*_normalised(rgb, points, width))
    figures["face_px"] = width / factor
    # Glasses by the rule the engine and the realism measure use (face_traits), on the face
    # as the engine sees it.
    face = traits(rgb, points[:, :2])
    figures["glasses_edges"], figures["glasses_bridge"] = face.glasses, face.frames
    figures["wears_glasses"] = float(wears_glasses(face))
    check.figures = figures
    check.findings = _findings(figures)
    return check


def _at_most(rgb: np.ndarray, edge: int) -> tuple[np.ndarray, float]:
    """`rgb` with its long edge at most `edge` pixels, and the factor it was scaled by: a
    60-megapixel photo is checked in the time of a 4-megapixel one."""
    factor = min(1.0, edge / max(rgb.shape[:2]))
    if factor == 1.0:
        return rgb, 1.0
    size = (max(int(rgb.shape[1] * factor), 1), max(int(rgb.shape[0] * factor), 1))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), factor


def _normalised(rgb: np.ndarray, points: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """The face cropped and scaled to `_FACE_WIDTH` pixels cheek to cheek, with its mesh: edge
    and texture figures then mean the same on a passport photo and on a full-body shot."""
    scale = _FACE_WIDTH / max(width, 1.0)
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    margin = 0.25 * (high - low)
    x0, y0 = np.maximum(np.floor(low - margin), 0).astype(int)
    x1, y1 = np.ceil(high + margin).astype(int)
    crop = rgb[y0:y1, x0:x1]
    size = (max(int(crop.shape[1] * scale), 1), max(int(crop.shape[0] * scale), 1))
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    moved = points.copy()
    moved[:, :2] = (points[:, :2] - (x0, y0)) * scale
    moved[:, 2] *= scale
    return cv2.resize(crop, size, interpolation=interp), moved


def _figures(rgb: np.ndarray, points: np.ndarray) -> dict[str, float | None]:
    p = points[:, :2]
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float64)
    width = float(np.linalg.norm(p[_CHEEK_R] - p[_CHEEK_L]))
    left = _patch(rgb.shape, p[_CHEEK_PATCH_L], 0.06 * width)
    right = _patch(rgb.shape, p[_CHEEK_PATCH_R], 0.06 * width)
    yaw, pitch, roll = head_pose(points)
    figures: dict[str, float | None] = {
        "yaw": yaw,
        "pitch": pitch,
        "roll": roll,
        **_mouth(lab, p),
        "facial_hair_darkness": _hair_darkness(lab[..., 0], p, width, left | right),
        **_lips(lab, p, left | right),
    }
    sides = [_mean(lab[..., 0], left), _mean(lab[..., 0], right)]
    if None not in sides:
        low, high = sorted(float(s) for s in sides)  # type: ignore[arg-type]
        figures["light_ratio"] = high / max(low, 1.0)
    return figures


def _mouth(lab: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    height = float(np.linalg.norm(p[_CHIN] - p[_FOREHEAD]))
    opening = float(np.linalg.norm(p[_LIP_IN_TOP] - p[_LIP_IN_BOTTOM])) / max(height, 1.0)
    inner = _mask(lab.shape, p[_INNER_LIPS])
    if opening < 0.01 or not inner.any():
        return {"mouth_open": opening, "teeth_share": 0.0}
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    lips = _mask(lab.shape, p[_OUTER_LIPS]) & ~inner
    lip_l = _mean(lab[..., 0], lips) or 0.0
    teeth = (lab[..., 0] > lip_l + 20) & (chroma < 18) & inner
    return {"mouth_open": opening, "teeth_share": float(teeth.sum() / inner.sum())}


def _hair_darkness(
    lightness: np.ndarray, p: np.ndarray, width: float, cheeks: np.ndarray
) -> float | None:
    """The darkest of the upper lip, the chin and the jaw beside the mouth, relative to the
    cheeks below the eyes (where a beard rarely grows)."""
    skin = _mean(lightness, cheeks)
    if not skin:
        return None
    shape = lightness.shape
    areas = [
        _patch(shape, (p[_NOSE_BOTTOM] + p[_LIP_TOP]) / 2, 0.04 * width),
        _patch(shape, (p[_LIP_BOTTOM] + p[_CHIN]) / 2, 0.07 * width),
        _patch(shape, (p[_MOUTH_L] + p[136]) / 2, 0.05 * width)
        | _patch(shape, (p[_MOUTH_R] + p[365]) / 2, 0.05 * width),
    ]
    means = [m for m in (_mean(lightness, a) for a in areas) if m is not None]
    return min(means) / skin if means else None


def _lips(lab: np.ndarray, p: np.ndarray, cheeks: np.ndarray) -> dict[str, float | None]:
    lips = _mask(lab.shape, p[_OUTER_LIPS], 0.05) & ~_mask(lab.shape, p[_INNER_LIPS], -0.1)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    lip_chroma, skin_chroma = _mean(chroma, lips), _mean(chroma, cheeks)
    redness = _mean(lab[..., 1] - 128, lips)
    if lip_chroma is None or skin_chroma is None:
        return {"lip_chroma_excess": None, "lip_redness": redness}
    return {"lip_chroma_excess": lip_chroma - skin_chroma, "lip_redness": redness}


def _findings(f: dict[str, float | None]) -> list[Finding]:
    found = []

    def over(name: str, limit: float) -> bool:
        value = f.get(name)
        return value is not None and value > limit

    if f.get("wears_glasses"):
        found.append(Finding("glasses", MESSAGES["glasses"]))
    darkness = f.get("facial_hair_darkness")
    if darkness is not None and darkness < HAIR_DARKNESS:
        found.append(Finding("facial_hair", MESSAGES["facial_hair"]))
    if over("mouth_open", OPEN_MOUTH):
        teeth = " with teeth shown" if over("teeth_share", TEETH_SHOWN) else ""
        found.append(Finding("open_mouth", MESSAGES["open_mouth"].format(teeth=teeth)))
    if over("lip_chroma_excess", LIP_CHROMA_EXCESS) and over("lip_redness", LIP_REDNESS):
        found.append(Finding("lip_colour", MESSAGES["lip_colour"]))
    how = _pose_words(f)
    if how:
        found.append(Finding("pose", MESSAGES["pose"].format(how=how)))
    px = f.get("face_px")
    if px is not None and px < MIN_FACE_PX:
        found.append(Finding("small_face", MESSAGES["small_face"].format(px=px, min=MIN_FACE_PX)))
    if over("light_ratio", UNEVEN_LIGHT):
        ratio = f["light_ratio"]
        found.append(Finding("uneven_light", MESSAGES["uneven_light"].format(ratio=ratio)))
    return found


def _pose_words(f: dict[str, float | None]) -> str:
    words = []
    yaw, pitch, roll = (f.get(k) or 0.0 for k in ("yaw", "pitch", "roll"))
    if abs(yaw) > MAX_YAW:
        words.append(f"turned {abs(yaw):.0f} degrees to the side")
    if abs(pitch) > MAX_PITCH:
        words.append(f"{'raised' if pitch > 0 else 'lowered'} {abs(pitch):.0f} degrees")
    if abs(roll) > MAX_ROLL:
        words.append(f"tilted {abs(roll):.0f} degrees")
    return " and ".join(words)
