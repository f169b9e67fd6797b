"""Sleeves of a top or outerwear: split the flat-lay silhouette into torso and two sleeves, and
warp each sleeve along the body's arm (shoulder -> elbow -> wrist)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vestis.engines.local.compose import blend

#: How much wider a sleeve is drawn than its flat-lay: a flat sleeve lies folded at its edges,
#: and worn, it stands round the arm (drawn at 1.0, the arm's outer edge showed bare skin).
_FULLNESS = 1.2


@dataclass
class Sleeve:
    """One sleeve of a flat-lay, in the garment's pixel coordinates."""

    rgba: np.ndarray  # the whole garment's size, alpha only on this sleeve
    shoulder: np.ndarray  # where the sleeve joins the torso, at the top (x, y)
    cuff: np.ndarray  # centre of the far end
    width: float  # median width across the sleeve axis


def torso_columns(mask: np.ndarray) -> tuple[int, int]:
    """Left and right column of the torso: outward from the centre while each column's lowest
    garment row stays near the hem's (sleeves end higher, as short sleeves, or lower, as long
    sleeves hanging beside the body)."""
    h, w = mask.shape
    any_col = mask.any(axis=0)
    bottom = np.where(any_col, h - 1 - np.argmax(mask[::-1], axis=0), -h)
    cx = w // 2
    hem = float(np.median(bottom[max(cx - w // 20, 0) : cx + w // 20 + 1]))
    near = np.abs(bottom - hem) < 0.05 * h
    left = cx
    while left > 0 and near[left - 1]:
        left -= 1
    right = cx
    while right < w - 1 and near[right + 1]:
        right += 1
    return left, right + 1


def split(rgba: np.ndarray) -> tuple[np.ndarray, list[Sleeve]]:
    """The torso (alpha cleared outside the torso columns) and the sleeves, left then right;
    no sleeves (and the garment unchanged) when the parts beside the torso are mere slivers, as
    on a vest or a tank top."""
    mask = rgba[..., 3] > 127
    h, w = mask.shape
    left, right = torso_columns(mask)
    total = float(mask.sum())
    sleeves: list[Sleeve] = []
    kernel = np.ones((max(3, w // 60),) * 2, np.uint8)
    for side in (0, 1):
        part = mask.copy()
        if side == 0:
            part[:, left:] = False
        else:
            part[:, :right] = False
        # Open away the slivers of the torso's own edge (anti-aliasing, a flared body).
        part = cv2.morphologyEx(part.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0
        ys, xs = np.nonzero(part)
        if len(ys) < 0.03 * total:
            return rgba, []
        rows = part.sum(axis=1)
        reach = (left - xs.min()) if side == 0 else (xs.max() + 1 - right)
        # A sleeve is a broad piece reaching well out of the torso; a vest's armhole edges or
        # a flared body beside a narrow hem band are thin slivers.
        if np.median(rows[rows > 0]) < 0.075 * w or reach < 0.14 * w:
            return rgba, []
        edge = left if side == 0 else right - 1
        column = np.nonzero(mask[:, edge])[0]
        shoulder = np.array([float(edge), float(column.min() if len(column) else ys.min())])
        dist = np.hypot(xs - shoulder[0], ys - shoulder[1])
        far = dist >= np.percentile(dist, 94)
        cuff = np.array([float(xs[far].mean()), float(ys[far].mean())])
        axis = (cuff - shoulder) / max(float(np.linalg.norm(cuff - shoulder)), 1.0)
        across = (xs - shoulder[0]) * -axis[1] + (ys - shoulder[1]) * axis[0]
        along = (xs - shoulder[0]) * axis[0] + (ys - shoulder[1]) * axis[1]
        mid = (along > 0.3 * along.max()) & (along < 0.8 * along.max())
        width = float(np.ptp(across[mid])) if mid.any() else float(np.ptp(across))
        piece = rgba.copy()
        piece[..., 3] = np.where(part, rgba[..., 3], 0)
        sleeves.append(Sleeve(rgba=piece, shoulder=shoulder, cuff=cuff, width=width))
    torso = rgba.copy()
    torso[:, :left, 3] = 0
    torso[:, right:, 3] = 0
    return torso, sleeves


def _segment_coords(q: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Along (clipped to the segment), signed across and distance of points q to segment a-b."""
    d = b - a
    length = max(float(np.linalg.norm(d)), 1e-6)
    u = d / length
    rel = q - a
    along = rel @ u
    across = rel @ np.array([-u[1], u[0]])
    clipped = np.clip(along, 0, length)
    dist = np.hypot(along - clipped, across)
    return clipped, across, dist


def warp_along_arm(
    canvas: np.ndarray,
    sleeve: Sleeve,
    arm: np.ndarray,
    scale: float,
    to_canvas: np.ndarray,
    layer: np.ndarray | None = None,
) -> None:
    """Draw `sleeve` on `canvas` along `arm` (shoulder, elbow, wrist on the canvas), by an inverse
    map along the two arm segments: the top of its centre line starts where the torso warp
    `to_canvas` (2x3) puts it (raised a little), its axis bends at the elbow, its width is
    `scale` times the flat-lay's (a little fuller). A sleeve about as long as the arm is
    stretched or shortened to end at the wrist; a short sleeve keeps its length. `layer`
    records the sleeve's alpha (see `compose.paste_affine`)."""
    length = float(np.linalg.norm(sleeve.cuff - sleeve.shoulder))
    axis = (sleeve.cuff - sleeve.shoulder) / max(length, 1.0)
    normal = np.array([-axis[1], axis[0]])
    # The sleeve's centre line starts half a sleeve out from where it joins the torso; it goes
    # where the torso warp puts that point, then down the arm through elbow and wrist.
    outward = 1.0 if (sleeve.cuff[0] - sleeve.shoulder[0]) * normal[0] >= 0 else -1.0
    anchor = sleeve.shoulder + outward * 0.5 * sleeve.width * normal
    corner = to_canvas[:, :2] @ anchor + to_canvas[:, 2]
    # A flat sleeve's seam slopes down from the neck; worn, the cap rises over the shoulder.
    corner = corner - (0.0, 0.3 * sleeve.width * scale)
    path = np.array([corner, arm[1], arm[2]], dtype=np.float64)
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    arm_len = float(seg.sum())
    length = float(np.linalg.norm(sleeve.cuff - anchor))
    along_scale = scale
    if 0.75 < length * scale / max(arm_len, 1.0) < 1.3:  # a long sleeve: cuff at the wrist
        along_scale = arm_len / max(length, 1.0)
    reach = length * along_scale
    half = 0.5 * sleeve.width * scale * _FULLNESS * 1.3 + 2
    h, w = canvas.shape[:2]
    x0 = max(int(path[:, 0].min() - half), 0)
    x1 = min(int(path[:, 0].max() + half) + 1, w)
    y0 = max(int(path[:, 1].min() - half), 0)
    y1 = min(int(path[:, 1].max() + half) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    q = np.stack([xs, ys], axis=-1)
    a1, c1, d1 = _segment_coords(q, path[0], path[1])
    a2, c2, d2 = _segment_coords(q, path[1], path[2])
    first = d1 <= d2
    across = np.where(first, c1, c2)
    # The end segments run on past the shoulder and the wrist, so that neither the sleeve cap
    # nor a long cuff is cut off.
    a1_free = (q - path[0]) @ ((path[1] - path[0]) / max(seg[0], 1e-6))
    a2_free = (q - path[1]) @ ((path[2] - path[1]) / max(seg[1], 1e-6))
    arc = np.where(first, np.minimum(a1_free, a1), a2_free + seg[0])
    axis = (sleeve.cuff - anchor) / max(length, 1.0)
    normal = np.array([-axis[1], axis[0]])
    src = (
        anchor
        + (arc / along_scale)[..., None] * axis
        + (across / (scale * _FULLNESS))[..., None] * normal
    )
    inside = (arc >= -half) & (arc <= reach + half)
    map_x = np.where(inside, src[..., 0], -10).astype(np.float32)
    map_y = np.where(inside, src[..., 1], -10).astype(np.float32)
    warped = cv2.remap(sleeve.rgba, map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))  # fmt: skip
    blend(canvas, warped, x0, y0, layer)
