"""The body that flat-to-model dresses: the identity's own body (pose landmarks), or a neutral
mannequin drawn procedurally with the identity's head composited on."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vestis.engines.local import clothes, models
from vestis.engines.local.compose import paste_affine, similarity
from vestis.engines.local.faces import FaceGeometry

#: Pose landmark indices.
_SHOULDERS, _HIPS, _KNEES, _ANKLES = (11, 12), (23, 24), (25, 26), (27, 28)
#: Face-mesh points: top of the forehead and the chin.
_FOREHEAD, _CHIN = 10, 152


@dataclass
class Body:
    """Key points of a body on the canvas (pairs sorted left to right in the image)."""

    shoulders: np.ndarray  # (2, 2)
    hips: np.ndarray
    knees: np.ndarray
    ankles: np.ndarray
    head_unit: float  # one head height in pixels (a body is about 8)
    shoulder_span: float  # outer shoulder width
    chest_span: float  # torso width just below the armpits
    hip_span: float  # outer hip width
    source: str  # "identity" or "template"
    base_layer: list[str] = field(default_factory=list)  # neutral basics added to a mannequin
    #: Per arm, left then right in the image: shoulder, elbow and wrist, shape (2, 3, 2); None
    #: when the identity's elbows or wrists are not visible.
    arms: np.ndarray | None = None
    #: Where the identity's own clothes are on the canvas (bool masks), by "upper" and "lower"
    #: garment, and "bared": where skin was painted over them; empty for a mannequin.
    own_clothes: dict[str, np.ndarray] = field(default_factory=dict)
    #: The body reaches the feet (False: it ends inside the frame, e.g. mid-thigh).
    full_length: bool = True

    @property
    def shoulder_mid(self) -> np.ndarray:
        return self.shoulders.mean(axis=0)

    @property
    def shoulder_angle(self) -> float:
        d = self.shoulders[1] - self.shoulders[0]
        return float(np.arctan2(d[1], d[0]))


def _pair(points: np.ndarray, indices: tuple[int, int]) -> np.ndarray:
    pair = points[list(indices), :2]
    return pair[np.argsort(pair[:, 0])]


def visible(landmarks: np.ndarray, indices: tuple[int, ...], threshold: float = 0.5) -> bool:
    return bool((landmarks[list(indices), 2] > threshold).all())


def identity_body(
    canvas: np.ndarray,
    identity: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    face: FaceGeometry | None = None,
    replace: frozenset[str] = frozenset(),
) -> Body:
    """Cut the identity's person out (selfie segmentation), fit it to the canvas, paste it, and
    return its key points on the canvas. `replace` names the identity's own garments the new
    ones take the place of ("upper", "lower"): an old upper garment is painted over with skin,
    and what is left of them is returned as `Body.own_clothes` for measuring."""
    h, w = canvas.shape[:2]
    mask = models.person_mask(identity)
    ys, xs = np.nonzero(mask > 0.5)
    if len(ys) == 0:
        raise ValueError("no person in the identity image")
    own = clothes.own_clothes(identity, face, landmarks, mask) if face is not None else None
    bared = None
    if own is not None and "upper" in replace:
        identity, bared = clothes.bare(identity, own.upper, own.skin, mask)
    bx0, by0, bx1, by1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    scale = min(0.92 * h / (by1 - by0), 0.9 * w / (bx1 - bx0)) * float(rng.uniform(0.97, 1.0))
    cx = w / 2 + float(rng.uniform(-0.02, 0.02)) * w
    dst = (cx, (h - (by1 - by0) * scale) / 2)
    matrix = similarity(scale, 0.0, ((bx0 + bx1) / 2, by0), dst)
    alpha = np.clip((mask - 0.3) / 0.4, 0, 1)
    rgba = np.dstack([identity, (alpha * 255).astype(np.uint8)])
    points = landmarks[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    pts = np.column_stack([points, landmarks[:, 2]])
    shoulders, hips = _pair(pts, _SHOULDERS), _pair(pts, _HIPS)
    torso = float(np.linalg.norm(shoulders.mean(axis=0) - hips.mean(axis=0)))
    head_unit = torso / 2.4
    if visible(landmarks, (27, 28)):
        floor = _pair(pts, _ANKLES).mean(axis=0) + (0.0, 0.35 * head_unit)
        floor_shadow(canvas, floor, head_unit)
    paste_affine(canvas, rgba, matrix)
    arms = None
    if visible(landmarks, (13, 14, 15, 16)):
        chains = [pts[[11, 13, 15], :2], pts[[12, 14, 16], :2]]
        arms = np.array(sorted(chains, key=lambda c: float(c[0, 0])))
    # The old clothes still there, and the skin painted where they were (flat, it shows as a
    # patch where no new garment covers it): both are measured after dressing.
    own_on_canvas: dict[str, np.ndarray] = {}
    if own is not None:
        upper = own.upper if bared is None else np.zeros_like(own.upper)
        bare_part = bared if bared is not None else np.zeros_like(own.upper)
        for name, part in (("upper", upper), ("lower", own.lower), ("bared", bare_part)):
            warped = cv2.warpAffine(part.astype(np.uint8) * 255, matrix, (w, h))
            own_on_canvas[name] = warped > 127
    # Pose marks joints; the outer contour of shoulders and hips is wider than the joints.
    return Body(
        shoulders=shoulders,
        hips=hips,
        knees=_pair(pts, _KNEES),
        ankles=_pair(pts, _ANKLES),
        head_unit=head_unit,
        shoulder_span=float(np.linalg.norm(shoulders[1] - shoulders[0])) * 1.3,
        chest_span=float(np.linalg.norm(shoulders[1] - shoulders[0])) * 1.1,
        hip_span=float(np.linalg.norm(hips[1] - hips[0])) * 1.75,
        source="identity",
        arms=arms,
        own_clothes=own_on_canvas,
        full_length=clothes.full_length(landmarks, identity.shape[0]),
    )


def floor_shadow(canvas: np.ndarray, centre: np.ndarray, head_unit: float) -> None:
    """A soft contact shadow on the floor where the feet stand (drawn before the body)."""
    h, w = canvas.shape[:2]
    rx, ry = 1.4 * head_unit, 0.22 * head_unit
    x0, x1 = max(int(centre[0] - 2 * rx), 0), min(int(centre[0] + 2 * rx), w)
    y0, y1 = max(int(centre[1] - 3 * ry), 0), min(int(centre[1] + 3 * ry), h)
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d2 = ((xs - centre[0]) / rx) ** 2 + ((ys - centre[1]) / ry) ** 2
    darkness = 0.22 * np.exp(-1.5 * d2)
    region = canvas[y0:y1, x0:x1].astype(np.float32) * (1.0 - darkness[..., None])
    canvas[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)


def skin_tone(identity: np.ndarray, face: FaceGeometry) -> tuple[int, int, int]:
    """Mean colour of the identity's face skin (eyes, brows and highlights left out)."""
    mask = np.zeros(identity.shape[:2], dtype=np.uint8)
    cv2.fillConvexPoly(
        mask, np.round(cv2.convexHull(face.oval.astype(np.float32))).astype(np.int32), 255
    )
    pixels = identity[mask > 0].astype(np.float32)
    lightness = pixels.mean(axis=1)
    lo, hi = np.percentile(lightness, [55, 92])  # the lit skin, not the shadows
    chosen = pixels[(lightness >= lo) & (lightness <= hi)]
    r, g, b = (int(v) for v in (chosen.mean(axis=0) if len(chosen) else pixels.mean(axis=0)))
    return r, g, b


def _limb(mask: np.ndarray, a: np.ndarray, b: np.ndarray, wa: float, wb: float) -> None:
    """A tapered limb from a (width wa) to b (width wb), with round ends."""
    d = b - a
    n = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-6)
    quad = np.array([a + n * wa / 2, b + n * wb / 2, b - n * wb / 2, a - n * wa / 2])
    cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 255, lineType=cv2.LINE_AA)
    for p, r in ((a, wa / 2), (b, wb / 2)):
        cv2.circle(mask, (int(round(p[0])), int(round(p[1]))), int(round(r)), 255, -1, cv2.LINE_AA)


def template_body(
    canvas: np.ndarray,
    identity: np.ndarray,
    face: FaceGeometry | None,
    rng: np.random.Generator,
    base_layer: tuple[bool, bool] = (False, False),
) -> Body:
    """Draw a neutral, shaded mannequin in the identity's skin tone (8 heads tall, standing,
    front-facing), composite the identity's head on it, and return its key points."""
    h, w = canvas.shape[:2]
    height = min(0.93 * h, 0.86 * w / 0.32) * float(rng.uniform(0.97, 1.0))
    hu = height / 8.0
    cx = w / 2 + float(rng.uniform(-0.015, 0.015)) * w
    y0 = (h - height) / 2
    arm = float(rng.uniform(-0.05, 0.08))  # how far the arms hang away from the body

    def p(x: float, y: float) -> np.ndarray:
        return np.array([cx + x * hu, y0 + y * hu])

    mask = np.zeros((h, w), dtype=np.uint8)
    cv2.ellipse(mask, (int(cx), int(y0 + 0.65 * hu)), (int(0.34 * hu), int(0.45 * hu)), 0, 0, 360,
                255, -1, cv2.LINE_AA)  # fmt: skip
    _limb(mask, p(0, 0.9), p(0, 1.45), 0.46 * hu, 0.52 * hu)  # neck
    torso_mask = np.zeros_like(mask)
    torso = [p(-0.3, 1.3), p(0.3, 1.3), p(0.8, 1.5), p(0.94, 1.72), p(0.76, 2.4), p(0.64, 3.0),
             p(0.86, 3.8), p(0.8, 4.2), p(-0.8, 4.2), p(-0.86, 3.8), p(-0.64, 3.0), p(-0.76, 2.4),
             p(-0.94, 1.72), p(-0.8, 1.5)]  # fmt: skip
    cv2.fillPoly(torso_mask, [np.round(np.array(torso)).astype(np.int32)], 255, cv2.LINE_AA)
    for side in (-1, 1):  # rounded shoulders
        c = p(side * 0.74, 1.72)
        cv2.circle(torso_mask, (int(c[0]), int(c[1])), int(0.24 * hu), 255, -1, cv2.LINE_AA)
    legs_mask, arms_mask = np.zeros_like(mask), np.zeros_like(mask)
    arms = []
    for side in (-1, 1):
        shoulder, elbow = p(side * 0.86, 1.65), p(side * (1.05 + arm), 3.0)
        wrist = p(side * (1.12 + arm * 1.6), 4.25)
        arms.append([shoulder, elbow, wrist])
        _limb(arms_mask, shoulder, elbow, 0.34 * hu, 0.24 * hu)
        _limb(arms_mask, elbow, wrist, 0.24 * hu, 0.18 * hu)
        _limb(arms_mask, wrist, wrist + (side * 0.03 * hu, 0.45 * hu), 0.22 * hu, 0.16 * hu)
        hip, knee, ankle = p(side * 0.42, 3.95), p(side * 0.36, 5.9), p(side * 0.3, 7.6)
        _limb(legs_mask, hip, knee, 0.7 * hu, 0.38 * hu)
        _limb(legs_mask, knee, ankle, 0.38 * hu, 0.2 * hu)
        _limb(mask, ankle, ankle + (side * 0.12 * hu, 0.3 * hu), 0.22 * hu, 0.24 * hu)  # foot
    mask = np.maximum.reduce([mask, torso_mask, legs_mask, arms_mask])

    floor_shadow(canvas, p(0, 7.95), hu)
    tone = np.array(skin_tone(identity, face) if face else (214, 180, 156), dtype=np.float32)
    # Roundness: lighter along each limb's middle, darker toward its edges.
    dist = cv2.distanceTransform((mask > 127).astype(np.uint8), cv2.DIST_L2, 3)
    shade = 0.84 + 0.16 * np.clip(dist / (0.18 * hu), 0, 1)
    colour = np.broadcast_to(tone, (h, w, 3)).copy()
    # Neutral basics where the outfit leaves the mannequin bare (off-white tee, charcoal
    # trousers): a catalogue shot of a top alone still shows a dressed person. Arms stay bare.
    cover_torso, cover_legs = base_layer
    bare_arms = arms_mask > 127
    waist = int(y0 + 3.7 * hu)
    if cover_torso:
        tee = (torso_mask > 127) & ~bare_arms
        tee[waist:] = False
        colour[tee] = (234, 232, 226)
    if cover_legs:
        trousers = ((legs_mask > 127) | (torso_mask > 127)) & ~bare_arms
        trousers[:waist] = False
        trousers[int(y0 + 7.45 * hu) :] = False
        colour[trousers] = (62, 62, 68)
    colour = np.clip(colour * shade[..., None], 0, 255)
    alpha = mask.astype(np.float32)[..., None] / 255.0
    canvas[:] = np.clip(colour * alpha + canvas * (1 - alpha) + 0.5, 0, 255).astype(np.uint8)
    if face is not None:
        _paste_head(canvas, identity, face, p(0, 1.1), 0.9 * hu)
    return Body(
        shoulders=np.array([p(-0.78, 1.55), p(0.78, 1.55)]),
        hips=np.array([p(-0.42, 3.95), p(0.42, 3.95)]),
        knees=np.array([p(-0.36, 5.9), p(0.36, 5.9)]),
        ankles=np.array([p(-0.3, 7.6), p(0.3, 7.6)]),
        head_unit=hu,
        shoulder_span=1.9 * hu,
        chest_span=1.5 * hu,
        hip_span=1.72 * hu,
        source="template",
        arms=np.array(arms),
    )


def _paste_head(
    canvas: np.ndarray, identity: np.ndarray, face: FaceGeometry, chin: np.ndarray, face_h: float
) -> None:
    """The identity's head (face and hair, cut out by segmentation, faded out below the chin),
    scaled so its forehead-to-chin height is `face_h` and its chin sits at `chin`."""
    top, bottom = face.landmarks[_FOREHEAD], face.landmarks[_CHIN]
    fh = float(np.linalg.norm(bottom - top))
    fw = float(face.oval[:, 0].max() - face.oval[:, 0].min())
    ih, iw = identity.shape[:2]
    x0, x1 = (
        int(max(face.oval[:, 0].min() - 0.45 * fw, 0)),
        int(min(face.oval[:, 0].max() + 0.45 * fw, iw)),
    )
    y0, y1 = int(max(top[1] - 0.75 * fh, 0)), int(min(bottom[1] + 0.35 * fh, ih))
    crop = identity[y0:y1, x0:x1]
    person = models.person_mask(identity)[y0:y1, x0:x1]
    alpha = np.clip((person - 0.3) / 0.4, 0, 1)
    # Keep the head only: an ellipse over face and hair, ending at the chin, so that collars,
    # shoulders and the backdrop of the identity photo stay behind.
    head = np.zeros(alpha.shape, dtype=np.float32)
    centre_x = float(face.oval[:, 0].mean()) - x0
    centre_y = (top[1] - 0.45 * fh + bottom[1]) / 2 - y0
    axes = (int(0.66 * fw), int((bottom[1] - top[1] + 0.45 * fh) / 2 + 0.02 * fh))
    cv2.ellipse(head, (int(centre_x), int(centre_y)), axes, 0, 0, 360, 1.0, -1)
    head = cv2.GaussianBlur(head, (0, 0), max(1.0, fh * 0.03))
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, fh * 0.008)) * head
    rgba = np.dstack([crop, (alpha * 255).astype(np.uint8)])
    scale = face_h / fh
    angle = -float(np.arctan2(bottom[0] - top[0], bottom[1] - top[1]))  # stand the head upright
    matrix = similarity(scale, angle, (bottom[0] - x0, bottom[1] - y0), (chin[0], chin[1]))
    paste_affine(canvas, rgba, matrix)
