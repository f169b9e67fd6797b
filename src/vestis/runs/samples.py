"""The sample catalogue: PDP photos, flat-lays and an identity image, made on the spot.

Used by `vestis demo` and by tests, so that both run from a fresh clone with nothing beside it.
PDP photos are derived from `skimage.data.astronaut()` (a public-domain photograph with a real
face that scikit-image ships). The demo identity is the astronaut's own face, mirrored and
warmed: the only public-domain portrait of another person among the installed packages
(`grace_hopper.jpg`, the U.S. Navy portrait matplotlib ships) wears glasses, which the local
engine refuses. So the demo's swaps re-render the photos' own model (the face measure says
"not the identity", rightly); Grace Hopper's portrait is the catalogue's second identity, to see
the refusal, and the tests' second person.
Flat-lays are Pillow drawings on plain backgrounds, the way packshots are shot.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

GarmentKind = Literal["top", "bottom", "dress", "shoes"]

#: Trouser colours of the PDP photos, picked by seed.
_TROUSER_COLOURS = [(38, 52, 84), (70, 70, 74), (120, 96, 70), (24, 24, 28), (90, 110, 140)]

#: Studio background of the PDP photos (light grey, like the real catalogue shots).
_STUDIO_GREY = (226, 226, 224)


def _astronaut() -> Image.Image:
    from skimage import data  # deferred: importing skimage.data costs time at CLI start-up

    return Image.fromarray(np.asarray(data.astronaut())).convert("RGB")


def make_pdp_photo(seed: int = 0) -> Image.Image:
    """A 480 x 640 (3:4) product-detail-like photo: the astronaut's head and upper body on a
    light studio background, wearing drawn trousers whose colour and framing depend on `seed`."""
    rng = random.Random(seed)
    photo = Image.new("RGB", (480, 640), _STUDIO_GREY)
    # Jitter the framing a little so that different seeds give different photos.
    scale = 440 + rng.randrange(0, 41)
    portrait = _astronaut().resize((scale, scale), Image.Resampling.LANCZOS)
    left = (480 - scale) // 2 + rng.randrange(-12, 13)
    photo.paste(portrait, (left, 0))

    draw = ImageDraw.Draw(photo)
    trousers = _TROUSER_COLOURS[seed % len(_TROUSER_COLOURS)]
    top = scale
    cx = 240 + rng.randrange(-10, 11)
    draw.rectangle([cx - 130, top, cx + 130, top + 26], fill=(30, 26, 24))  # belt
    draw.polygon(
        [(cx - 130, top + 26), (cx - 6, top + 26), (cx - 20, 640), (cx - 140, 640)], fill=trousers
    )
    draw.polygon(
        [(cx + 6, top + 26), (cx + 130, top + 26), (cx + 140, 640), (cx + 20, 640)], fill=trousers
    )
    return photo


def make_identity_image() -> Image.Image:
    """A 320 x 400 head-and-shoulders identity photo: the astronaut's face, mirrored and with a
    warmer tone, so that a swap onto a PDP photo made by `make_pdp_photo` visibly changes it."""
    crop = _astronaut().crop((120, 0, 400, 350))
    crop = ImageOps.mirror(crop)
    r, g, b = crop.split()
    warm = Image.merge(
        "RGB", (r.point(lambda v: min(255, int(v * 1.08) + 6)), g, b.point(lambda v: int(v * 0.9)))
    )
    warm = ImageEnhance.Contrast(warm).enhance(1.05)
    return warm.resize((320, 400), Image.Resampling.LANCZOS)


def make_portrait_identity_image() -> Image.Image:
    """Grace Hopper's official portrait (512 x 600), a different person from the astronaut."""
    from matplotlib import cbook  # deferred: matplotlib's import is slow and only needed here

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return Image.open(handle).convert("RGB")


def make_faceless_image(color: tuple[int, int, int] = (200, 180, 160)) -> Image.Image:
    """A plain image with no face in it (for the "no face found" paths)."""
    image = Image.new("RGB", (320, 400), color)
    ImageDraw.Draw(image).ellipse([80, 120, 240, 280], fill=(120, 140, 160))
    return image


def _top_shape(w: int, h: int) -> list[tuple[float, float]]:
    return [
        (0.30 * w, 0.10 * h),
        (0.42 * w, 0.08 * h),
        (0.50 * w, 0.14 * h),
        (0.58 * w, 0.08 * h),
        (0.70 * w, 0.10 * h),
        (0.92 * w, 0.28 * h),
        (0.82 * w, 0.38 * h),
        (0.72 * w, 0.30 * h),
        (0.72 * w, 0.90 * h),
        (0.28 * w, 0.90 * h),
        (0.28 * w, 0.30 * h),
        (0.18 * w, 0.38 * h),
        (0.08 * w, 0.28 * h),
    ]


def _bottom_shape(w: int, h: int) -> list[tuple[float, float]]:
    return [
        (0.30 * w, 0.05 * h),
        (0.70 * w, 0.05 * h),
        (0.76 * w, 0.95 * h),
        (0.54 * w, 0.95 * h),
        (0.50 * w, 0.30 * h),
        (0.46 * w, 0.95 * h),
        (0.24 * w, 0.95 * h),
    ]


def _dress_shape(w: int, h: int) -> list[tuple[float, float]]:
    return [
        (0.36 * w, 0.04 * h),
        (0.44 * w, 0.04 * h),
        (0.50 * w, 0.10 * h),
        (0.56 * w, 0.04 * h),
        (0.64 * w, 0.04 * h),
        (0.66 * w, 0.20 * h),
        (0.62 * w, 0.36 * h),
        (0.80 * w, 0.95 * h),
        (0.20 * w, 0.95 * h),
        (0.38 * w, 0.36 * h),
        (0.34 * w, 0.20 * h),
    ]


def _draw_shoes(draw: ImageDraw.ImageDraw, w: int, h: int, color: tuple[int, int, int]) -> None:
    for x0 in (0.10 * w, 0.54 * w):
        draw.rounded_rectangle(
            [x0, 0.40 * h, x0 + 0.36 * w, 0.62 * h], radius=int(0.06 * w), fill=color
        )
        draw.rectangle([x0, 0.58 * h, x0 + 0.36 * w, 0.64 * h], fill=(196, 196, 190))  # sole


def make_flat_lay(
    kind: GarmentKind, color: tuple[int, int, int] = (180, 40, 50), seed: int = 0
) -> Image.Image:
    """A flat-lay photo of one garment of `kind`, drawn in `color` on a plain off-white background
    (tops and dresses portrait 600 x 800, bottoms 500 x 800, shoes landscape 800 x 500), with a
    seed-dependent stripe pattern and a little sensor noise."""
    rng = random.Random(seed)
    size = {"top": (600, 800), "bottom": (500, 800), "dress": (600, 800), "shoes": (800, 500)}[kind]
    w, h = size
    background = (246, 245, 242)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    if kind == "shoes":
        _draw_shoes(draw, w, h, color)
    else:
        shape = {"top": _top_shape, "bottom": _bottom_shape, "dress": _dress_shape}[kind](w, h)
        draw.polygon(shape, fill=color)
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).polygon(shape, fill=255)
        stripes = Image.new("RGB", size, background)
        sdraw = ImageDraw.Draw(stripes)
        shade = tuple(max(0, c - 40) for c in color)
        period = rng.randrange(28, 60)
        for y in range(rng.randrange(0, period), h, period):
            sdraw.rectangle([0, y, w, y + period // 4], fill=shade)
        image.paste(stripes, (0, 0), mask.point(lambda v: v // 2))
    noise = np.random.default_rng(seed).normal(0.0, 2.0, (h, w, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


@dataclass
class SampleCatalogue:
    """Where `write_sample_catalogue` put things."""

    root: Path
    pdp_folders: list[Path] = field(default_factory=list)  # pdp/ARTICLE-001 ...
    flat_folders: list[Path] = field(default_factory=list)  # flat/SKU-001 ...
    identities: list[Path] = field(default_factory=list)  # identities/*.jpg

    @property
    def pdp_images(self) -> list[Path]:
        return sorted(p for folder in self.pdp_folders for p in folder.iterdir())

    @property
    def flat_images(self) -> list[Path]:
        return sorted(p for folder in self.flat_folders for p in folder.iterdir())


#: What each flat-lay folder holds: (file stem, kind, colour).
_FLAT_SETS: list[list[tuple[str, GarmentKind, tuple[int, int, int]]]] = [
    [("top", "top", (196, 52, 60)), ("bottom", "bottom", (40, 56, 92))],
    [("dress", "dress", (36, 110, 90)), ("shoes", "shoes", (30, 30, 34))],
]


def write_sample_catalogue(folder: Path) -> SampleCatalogue:
    """Write the sample catalogue under `folder`: `pdp/ARTICLE-001..002` (two JPEG photos each),
    `flat/SKU-001..002` (flat-lay JPEGs), `identities/astronaut.jpg` (the demo identity,
    first) and `identities/grace-hopper.jpg` (glasses: the local engine refuses her)."""
    folder = Path(folder)
    catalogue = SampleCatalogue(root=folder)
    for article in range(2):
        path = folder / "pdp" / f"ARTICLE-{article + 1:03d}"
        path.mkdir(parents=True, exist_ok=True)
        for shot in range(2):
            seed = article * 2 + shot
            make_pdp_photo(seed).save(path / f"shot-{shot + 1}.jpg", quality=92)
        catalogue.pdp_folders.append(path)
    for index, garments in enumerate(_FLAT_SETS):
        path = folder / "flat" / f"SKU-{index + 1:03d}"
        path.mkdir(parents=True, exist_ok=True)
        for stem, kind, colour in garments:
            make_flat_lay(kind, colour, seed=index).save(path / f"{stem}.jpg", quality=92)
        catalogue.flat_folders.append(path)
    identities = folder / "identities"
    identities.mkdir(parents=True, exist_ok=True)
    portrait = identities / "grace-hopper.jpg"
    make_portrait_identity_image().save(portrait, quality=92)
    astronaut = identities / "astronaut.jpg"
    make_identity_image().save(astronaut, quality=92)
    catalogue.identities.extend([astronaut, portrait])
    return catalogue
