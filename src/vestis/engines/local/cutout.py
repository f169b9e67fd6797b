"""Cutting a garment out of its packshot, white-on-white and cream-on-cream included.

Colour distance from the backdrop alone loses light garments on light backdrops (a cream knit
dress was cut down to its black trims), so the cut-out rests on several cues, each measured
against the backdrop's own noise (its border pixels):

- the backdrop is a smooth surface (a sweep with a gradient and a vignette), fitted to the
  border; what departs from it in colour counts, darkening less (soft shadows are darker
  backdrop, not garment);
- texture: knit and weave have fine detail that a smooth backdrop lacks;
- edges: the garment's outline, seams and the darker rim where the fabric turns.

The backdrop is what can be reached from the photo's border without crossing an edge or a
garment cue (a flood fill; small gaps in the outline are closed first); everything it cannot
reach is garment, so a white shirt with a visible outline comes out whole, holes filled. Where a
gap in the outline let the flood into the garment, the chamber it filled is found (a region of
"backdrop" reached only through a narrow neck) and given back. GrabCut, seeded with the result,
then settles the outline within a few pixels on a contrast-stretched image. Finally the largest
piece and the parts attached to it are kept; stray specks are dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vestis.quality.garments import CutoutMeasures, measure_cutout

#: Long edge of the image the cut-out is computed on (the mask is scaled back up).
_WORK_EDGE = 640
#: Darkening (in L* units) that still counts as shadow on the backdrop.
_SHADOW_L = 8.0
#: Fixed-point scale of the derivatives handed to Canny (backdrop noise units -> int16).
_DERIVATIVE_SCALE = 64.0
#: An edge is this many times the backdrop's 99th percentile gradient (hysteresis down to half).
_EDGE_FACTOR = 3.0
#: Scale (pixels) over which texture energy is averaged. Kept small, since the averaging
#: spreads a garment's texture onto the backdrop beside it (and would close the gap between
#: two trouser legs); the speckles of a faint weave are joined by a closing instead.
_TEXTURE_SPREAD = 1.5
_TEXTURE_JOIN = 4


@dataclass
class Cues:
    """Per-pixel evidence on the working image, each scaled so that 1 is clearly garment."""

    residual: np.ndarray  # Lab minus the fitted backdrop, float32 (h, w, 3)
    colour: np.ndarray  # departure from the backdrop's colour, in units of its noise
    texture: np.ndarray  # fine detail above the backdrop's
    gradient: np.ndarray  # gradient magnitude of the smoothed Lab image
    gradient_noise: float  # the backdrop's 99th percentile gradient
    derivatives: tuple[np.ndarray, np.ndarray]  # x and y, int16, 3 channels, in noise units
    border: np.ndarray  # bool: the photo's border band
    backdrop_sample: np.ndarray  # bool: border pixels that look like backdrop


@dataclass
class CutOut:
    """A garment's alpha at the photo's size, the boxes of its pieces and its measures."""

    alpha: np.ndarray  # uint8, feathered
    boxes: list[tuple[int, int, int, int]]  # x0, y0, x1, y1 of each piece, largest first
    measures: CutoutMeasures


def _surface(lab: np.ndarray, sample: np.ndarray, degree: int) -> np.ndarray:
    """Least-squares polynomial surface (degree 1 or 2 in x and y) per channel through the
    `sample` pixels, evaluated everywhere."""
    h, w = lab.shape[:2]
    ys, xs = np.nonzero(sample)
    if len(ys) > 20000:
        pick = np.random.default_rng(0).choice(len(ys), 20000, replace=False)
        ys, xs = ys[pick], xs[pick]

    def design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x, y = x / w - 0.5, y / h - 0.5
        terms = [np.ones_like(x), x, y] + ([x * x, x * y, y * y] if degree >= 2 else [])
        return np.stack(terms, axis=-1)

    coef, *_ = np.linalg.lstsq(
        design(xs.astype(np.float32), ys.astype(np.float32)), lab[ys, xs], rcond=None
    )
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return (design(gx, gy) @ coef).astype(np.float32)


def _border_band(h: int, w: int) -> np.ndarray:
    b = max(3, int(min(h, w) * 0.03))
    border = np.zeros((h, w), bool)
    border[:b] = border[-b:] = True
    border[:, :b] = border[:, -b:] = True
    return border


def cues(small: np.ndarray) -> Cues:
    """The evidence maps of a (working-size) RGB photo."""
    h, w = small.shape[:2]
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    smooth = cv2.GaussianBlur(lab, (0, 0), 1.0)
    border = _border_band(h, w)
    # A plane first, then a quadratic through the border pixels that fit the plane: a garment
    # touching the border is not backdrop.
    first = np.linalg.norm((smooth - _surface(smooth, border, 1))[border], axis=1)
    sample = border.copy()
    sample[border] = first < np.percentile(first, 80) * 2 + 0.5
    residual = smooth - _surface(smooth, sample, 2)
    noise = 1.4826 * np.median(np.abs(residual[sample]), axis=0)
    k_light = max(3 * float(noise[0]), 1.2)
    k_chroma = max(3 * float(np.hypot(noise[1], noise[2])), 1.2)
    d_light = residual[..., 0]
    chroma = np.hypot(residual[..., 1], residual[..., 2])
    colour = np.sqrt(
        (np.maximum(d_light, 0) / k_light) ** 2
        + (np.maximum(-d_light - _SHADOW_L, 0) / k_light) ** 2
        + (chroma / k_chroma) ** 2
    )
    blurred = cv2.GaussianBlur(lab, (0, 0), 1.2)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3) / 8
    gradient = np.sqrt((gx * gx + gy * gy).sum(axis=2))
    # Each channel in units of the backdrop's own gradients there: JPEG's blocky chroma on a
    # cream backdrop must not hide a faint outline in lightness.
    channel_noise = np.percentile(np.hypot(gx, gy)[sample], 99, axis=0)
    unit = _DERIVATIVE_SCALE / np.maximum(channel_noise, 0.05)
    derivatives = (
        np.clip(gx * unit, -32767, 32767).astype(np.int16),
        np.clip(gy * unit, -32767, 32767).astype(np.int16),
    )
    gradient_noise = float(np.percentile(gradient[sample], 99))
    texture = _texture(lab[..., 0], _edges(derivatives, 1.0), sample)
    return Cues(
        residual=residual,
        colour=colour,
        texture=texture,
        gradient=gradient,
        gradient_noise=gradient_noise,
        border=border,
        backdrop_sample=sample,
        derivatives=derivatives,
    )


def _edges(derivatives: tuple[np.ndarray, np.ndarray], strength: float) -> np.ndarray:
    """Thin (non-maximum suppressed) edges, well above the backdrop's own gradients (the
    derivatives are in units of those): a strong outline stays one pixel wide instead of
    widening into a halo."""
    high = _EDGE_FACTOR * strength * _DERIVATIVE_SCALE
    return cv2.Canny(*derivatives, 0.5 * high, high, L2gradient=True) > 0


def _texture(light: np.ndarray, edges: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Fine detail (knit, weave) above the backdrop's, in units where 1 is clearly textured.
    Detail on edges is left out (an outline is not texture), and clipped to a few
    times the backdrop's (a bold stripe must not spill texture onto the backdrop beside it);
    the energy is averaged over a pixel or two."""
    # Detail against a median, which follows a step edge: an outline or the narrow gap between
    # two trouser legs leaves no detail behind, a knit's ribs and a weave's grain do.
    detail = light - cv2.medianBlur(light, 5)
    spread = 1.4826 * float(np.median(np.abs(detail[sample])))
    detail = np.clip(detail, -6 * max(spread, 0.05), 6 * max(spread, 0.05))
    weight = 1.0 - (cv2.dilate(edges.astype(np.uint8), _disk(1)) > 0).astype(np.float32)
    power = cv2.GaussianBlur(detail * detail * weight, (0, 0), _TEXTURE_SPREAD)
    energy = np.sqrt(power / np.maximum(cv2.GaussianBlur(weight, (0, 0), _TEXTURE_SPREAD), 0.05))
    t0, t1 = np.median(energy[sample]), np.percentile(energy[sample], 99)
    return (energy - t0) / max(2.0 * float(t1 - t0), 0.15)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def border_connected(free: np.ndarray, border: np.ndarray) -> np.ndarray:
    """The parts of `free` (bool) connected to the border band."""
    _, labels = cv2.connectedComponents(free.astype(np.uint8), connectivity=4)
    touching = np.unique(labels[border & free])
    return np.isin(labels, touching[touching > 0])


def _backdrop(c: Cues, close: int, strength: float) -> np.ndarray:
    """The backdrop: flood from the border, stopped by edges and garment cues (`strength`
    scales the thresholds: below 1 is more eager to call things garment)."""
    edges = _edges(c.derivatives, strength)
    textured = (c.texture > strength).astype(np.uint8)
    textured = cv2.morphologyEx(textured, cv2.MORPH_CLOSE, _disk(_TEXTURE_JOIN))
    textured = cv2.erode(textured, _disk(2)) > 0
    barrier = edges | textured | (c.colour > strength)
    barrier = cv2.dilate(barrier.astype(np.uint8), _disk(close)) > 0
    backdrop = border_connected(~barrier, c.border)
    # Give back the band the barrier's widening took from the backdrop.
    return cv2.dilate(backdrop.astype(np.uint8), _disk(close)) > 0


def _unleak(backdrop: np.ndarray, border: np.ndarray, radius: int) -> np.ndarray:
    """Backdrop minus chambers: regions reached from the border only through necks narrower
    than 2 x `radius` (a gap in the garment's outline), which are garment. Specks of garment
    cue inside a leak (it wanders between them) are filled first, so the chamber is one piece."""
    islands = ~backdrop
    count, labels, stats, _ = cv2.connectedComponentsWithStats(islands.astype(np.uint8), 4)
    small = np.nonzero(stats[:, cv2.CC_STAT_AREA] < 0.002 * backdrop.size)[0]
    solid = backdrop | (np.isin(labels, small[small > 0]) & islands)
    kernel = _disk(radius)
    opened = cv2.morphologyEx(solid.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0
    chambers = opened & ~border_connected(opened, border)
    if chambers.any():
        backdrop = backdrop & ~(cv2.dilate(chambers.astype(np.uint8), kernel) > 0)
    return border_connected(backdrop, border)


def _stretched(c: Cues) -> np.ndarray:
    """The Lab departure from the backdrop, amplified into 8 bits, for GrabCut: a white
    garment's faint outline becomes a strong edge."""
    return np.clip(128 + 12.0 * c.residual, 0, 255).astype(np.uint8)


def _shadow_like(c: Cues) -> np.ndarray:
    """Pixels that look like the backdrop in a soft shadow: darker by a few L* units, the
    backdrop's hue, smooth."""
    darker = c.residual[..., 0]
    return (darker < -1.0) & (darker > -_SHADOW_L - 4) & (c.colour < 1)


def _refine(c: Cues, garment: np.ndarray, band: int = 4, shadow_band: int = 10) -> np.ndarray:
    """GrabCut near the outline, on the stretched image: sure garment inside, sure backdrop
    outside, undecided within `band` pixels of the outline, and within `shadow_band` where
    the garment's edge looks like shadow on the backdrop (the flood stops at a shadow's outer
    edge; the cut belongs at the garment's)."""
    inner = cv2.erode(garment.astype(np.uint8), _disk(band)) > 0
    outer = cv2.dilate(garment.astype(np.uint8), _disk(band)) > 0
    deep = cv2.erode(garment.astype(np.uint8), _disk(shadow_band)) > 0
    if not deep.any():
        return garment
    mask = np.full(garment.shape, cv2.GC_BGD, np.uint8)
    mask[outer] = cv2.GC_PR_BGD
    mask[garment] = cv2.GC_PR_FGD
    mask[inner] = cv2.GC_FGD
    mask[garment & ~deep & _shadow_like(c)] = cv2.GC_PR_BGD
    ys, xs = np.nonzero(outer)
    y0, y1 = max(int(ys.min()) - 2, 0), int(ys.max()) + 3
    x0, x1 = max(int(xs.min()) - 2, 0), int(xs.max()) + 3
    sub = np.ascontiguousarray(mask[y0:y1, x0:x1])
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    image = np.ascontiguousarray(_stretched(c)[y0:y1, x0:x1])
    # GrabCut starts its colour models with k-means on OpenCV's per-thread random generator:
    # seeded here, the same photo gives the same cut-out on any worker thread
    cv2.setRNGSeed(0x5EED)
    cv2.grabCut(image, sub, None, models[0], models[1], 1, cv2.GC_INIT_WITH_MASK)
    refined = np.zeros_like(garment)
    refined[y0:y1, x0:x1] = (sub == cv2.GC_FGD) | (sub == cv2.GC_PR_FGD)
    return refined


def _openings(garment: np.ndarray, c: Cues) -> np.ndarray:
    """Enclosed backdrop-like regions near the top of the garment (inside a halter neck,
    between straps that meet): backdrop seen through the garment, not garment."""
    ys = np.nonzero(garment.any(axis=1))[0]
    top, height = int(ys.min()), int(ys.max() - ys.min() + 1)
    plain = (np.maximum(c.colour, c.texture) < 0.5) & (c.gradient < 2 * c.gradient_noise + 0.3)
    plain = cv2.morphologyEx(plain.astype(np.uint8), cv2.MORPH_OPEN, _disk(2))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(plain, connectivity=4)
    area = max(int(garment.sum()), 1)
    openings = np.zeros_like(garment)
    for index in range(1, count):
        x, y, bw, bh, pixels = stats[index]
        inside = garment[labels == index].all()
        if inside and y + bh <= top + 0.35 * height and 0.01 * area < pixels < 0.1 * area:
            openings |= labels == index
    return openings


def _pieces(
    garment: np.ndarray,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]], int, float]:
    """Keep the largest piece, pieces nearly as large (a pair of shoes), and the parts close to
    it (a tie, a strap); return the mask, the kept boxes (largest first), how many pieces were
    dropped (specks not counted) and their share of the area."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(garment.astype(np.uint8), 8)
    if count <= 1:
        return garment, [], 0, 0.0
    areas = stats[1:, cv2.CC_STAT_AREA].astype(float)
    order = np.argsort(areas)[::-1] + 1
    main = order[0]
    near = cv2.dilate((labels == main).astype(np.uint8), _disk(max(3, garment.shape[0] // 50)))
    keep, dropped, dropped_area = [], 0, 0.0
    for index in order:
        area = areas[index - 1]
        attached = near[labels == index].any() and area >= 0.002 * areas[main - 1]
        if index == main or area >= 0.15 * areas[main - 1] or attached:
            keep.append(int(index))
        elif area >= 0.0005 * garment.size:  # not a speck of dust
            dropped += 1
            dropped_area += area
    boxes = [
        (int(x), int(y), int(x + bw), int(y + bh))
        for x, y, bw, bh in (stats[i, :4] for i in keep[:4])
    ]
    share = dropped_area / max(dropped_area + areas[[i - 1 for i in keep]].sum(), 1.0)
    return np.isin(labels, keep), boxes, dropped, share


def _object(c: Cues) -> np.ndarray:
    """Everything in the photo that is not plain backdrop, by looser thresholds: what the
    cut-out should have taken (measured against it)."""
    loose = ~_backdrop(c, close=2, strength=0.6)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(loose.astype(np.uint8), 8)
    specks = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] < 0.002 * loose.size]
    return loose & ~np.isin(labels, specks)


def _candidate(
    c: Cues, strength: float, photo_object: np.ndarray
) -> tuple[np.ndarray, list[tuple[int, int, int, int]], CutoutMeasures]:
    """One cut-out at `strength` (see `_backdrop`), with its boxes and measures."""
    radius = max(3, int(0.012 * max(c.border.shape)))
    garment = ~_unleak(_backdrop(c, close=1, strength=strength), c.border, radius)
    if garment.sum() > 16:
        garment = _refine(c, garment)
    if garment.any():
        garment &= ~_openings(garment, c)
    garment, boxes, dropped, dropped_share = _pieces(garment)
    return garment, boxes, measure_cutout(garment, photo_object | garment, dropped, dropped_share)


def segment(
    small: np.ndarray,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]], CutoutMeasures]:
    """The garment mask on a working-size photo, its piece boxes, and its measures. When the
    cut-out keeps somewhat too little of the photo's object (a white band on a white garment
    let the backdrop in), a more eager one is tried and kept if it keeps clearly more. One that
    lost most of it is left lost: then the backdrop has flooded the garment (a white garment
    running into the frame), and the looser object would be flooded alike."""
    c = cues(small)
    photo_object = _object(c)
    best = _candidate(c, 1.0, photo_object)
    if 0.5 <= best[2].kept < 0.85:
        eager = _candidate(c, 0.7, photo_object)
        if eager[2].kept > best[2].kept + 0.05:
            best = eager
    return best


def cut_out(rgb: np.ndarray) -> CutOut:
    """Cut the garment out of a packshot (RGB uint8): feathered alpha at the photo's size,
    piece boxes, and the measures of the cut-out."""
    h, w = rgb.shape[:2]
    scale = min(1.0, _WORK_EDGE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    garment, boxes, measures = segment(small)
    # The outline is smoothed before it is scaled up: the working mask's pixel steps (and the
    # wobble of a faint white outline) would show as a ragged edge at full size.
    soft = cv2.GaussianBlur(garment.astype(np.float32), (0, 0), 1.2)
    if scale < 1:
        soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    mask = (soft > 0.5).astype(np.uint8) * 255
    # Pull the edge in by a pixel or two before feathering: the outermost pixels are a mix of
    # garment and backdrop and would leave a light fringe on a darker background.
    inset = max(3, int(round(2.0 / scale)) | 1)
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (inset, inset)))
    alpha = cv2.GaussianBlur(mask, (0, 0), max(0.8, 1.0 / scale * 0.7))
    full_boxes = [
        (
            int(round(x0 / scale)),
            int(round(y0 / scale)),
            min(int(round(x1 / scale)), w),
            min(int(round(y1 / scale)), h),
        )
        for x0, y0, x1, y1 in boxes
    ]
    return CutOut(alpha=alpha, boxes=full_boxes, measures=measures)
