"""The local engine's packshots and garment recolours on the sample photos, measured.

Packshots: every garment of ../shared/data/garments as a `white_cutout` (square, contact shadow)
and a `flat_lay` (linen, soft drop shadow) at 1K. A garment is *whole* when the engine says so
(its cut-out kept the photo's object, not cut by the edge) and, on a pure white backdrop where
the true mask is known (the non-white pixels, holes filled), the cut-out matches it (IoU >= 0.9);
on another backdrop the contact sheet is the check.

Recolours: every garment to three targets, and the full-length model photos of pdp/ (the worn
garment, no label) to one. Measured in the delivered file (a JPEG input gives a JPEG encoded as
the server does, with the input's own coefficients where it is untouched): ΔE2000 from the
colour asked for to the garment's median colour, the share of pixels outside the garment that
are the input's bit for bit (and within 3 levels); a refused photo says why.

    python -m benchmarks packshots [--data ../shared/data]

Prints one line per case and the medians; writes contact sheets to benchmarks/out/
(packshots.png, recolours.png, recolours_worn.png).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
from benchmarks.data import shared_data  # noqa: E402
from benchmarks.quality_flat_to_model import WHOLE_IOU, _iou, _sheet, _true_mask  # noqa: E402
from vestis.engines.base import EngineError  # noqa: E402
from vestis.engines.local.packshot import make_packshot  # noqa: E402
from vestis.engines.local.recolor import garment_mask, shift_to  # noqa: E402
from vestis.quality import colour  # noqa: E402
from vestis.server.media import images  # noqa: E402

OUT = Path(__file__).parent / "out"
TILE = 300
TARGETS = ("navy", "burgundy", "#2E5A3B")
WORN_TARGET = "teal"
PACKSHOTS = (
    ("white_cutout", {"style": "white_cutout", "framing": "square_packshot", "shadow": "contact"},
     (1024, 1024)),
    ("flat_lay", {"style": "flat_lay", "surface": "linen"}, (768, 1024)),
)  # fmt: skip


def _tile(image: Image.Image, label: str, good: bool | None = None) -> Image.Image:
    image = image.convert("RGB").copy()
    image.thumbnail((TILE, TILE - 16))
    tile = Image.new("RGB", (TILE, TILE), "white")
    tile.paste(image, ((TILE - image.width) // 2, 16 + (TILE - 16 - image.height) // 2))
    fill = {True: (0, 140, 0), False: (220, 0, 0), None: (0, 0, 0)}[good]
    ImageDraw.Draw(tile).text((4, 2), label, fill=fill)
    return tile


def packshots(data: Path) -> list[list[Image.Image]]:
    print("packshots (1K): IoU of the cut-out with the true mask, whole, seconds")
    rows, whole = [], 0
    paths = sorted((data / "garments").iterdir())
    for path in paths:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        row = [_tile(Image.fromarray(rgb), path.name)]
        from vestis.engines.local.cutout import cut_out

        # the true mask is the non-white pixels: known only on a pure white backdrop
        border = np.concatenate([rgb[:4].reshape(-1, 3), rgb[-4:].reshape(-1, 3)])
        white = bool(border.min() >= 250)
        iou = _iou(cut_out(rgb).alpha > 127, _true_mask(rgb)) if white else None
        line = f"  {path.name:<36} IoU {'n/a  ' if iou is None else f'{iou:.3f}'}"
        for name, instruction, size in PACKSHOTS:
            started = time.perf_counter()
            made = make_packshot(rgb, instruction, size)
            ok = made.garment_whole and (iou is None or iou >= WHOLE_IOU)
            whole += ok if name == "white_cutout" else 0
            took = time.perf_counter() - started
            line += f" | {name}: {'whole' if ok else 'NOT whole'} {took:.1f}s"
            row.append(_tile(Image.fromarray(made.image), f"{name} {'whole' if ok else 'NOT'}", ok))
        print(line)
        rows.append(row)
    print(f"  garments whole: {whole}/{len(paths)}")
    return rows


def _delivered(path: Path, out: np.ndarray) -> np.ndarray:
    """The output as the server delivers it: the input's format, a JPEG with its settings."""
    source = images.open_image(path.read_bytes())
    fmt = "png" if path.suffix.lower() == ".png" else "jpg"
    data = images.encode(Image.fromarray(out), fmt, like=source)
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def recolour(path: Path, target_text: str, label: str | None = None) -> dict:
    rgb = np.asarray(images.open_image(path.read_bytes()).convert("RGB"))
    target = colour.parse_colour(target_text)
    try:
        mask = garment_mask(rgb, label)
    except EngineError as exc:
        return {"refused": str(exc), "rgb": rgb}
    out = shift_to(rgb, mask.alpha, colour.colour_lab(target))
    delivered = _delivered(path, out)
    exact = colour.measure_recolour(rgb, delivered, mask.alpha, target)
    near = colour.unchanged_outside(rgb, delivered, mask.alpha, tolerance=3)
    return {"rgb": rgb, "out": delivered, "source": mask.source, "delta_e": exact.delta_e2000,
            "exact": exact.unchanged_outside, "near": near}  # fmt: skip


def _line(name: str, target: str, result: dict) -> str:
    if "refused" in result:
        return f"  {name:<44} {target:<9} REFUSED: {result['refused'][:110]}"
    return (
        f"  {name:<44} {target:<9} {result['source']:<8} ΔE2000 {result['delta_e']:5.2f}  "
        f"outside kept: exact {result['exact']:.4f}, within 3 {result['near']:.4f}"
    )


def recolours(paths: list[Path], targets: tuple[str, ...], stats: list[dict]) -> list[list]:
    rows = []
    for path in paths:
        row = []
        for target in targets:
            result = recolour(path, target)
            print(_line(path.name, target, result))
            stats.append(result)
            if not row:
                row.append(_tile(Image.fromarray(result["rgb"]), path.name))
            if "refused" in result:
                row.append(_tile(Image.fromarray(result["rgb"]), "REFUSED", None))
            else:
                good = result["delta_e"] < colour.TARGET_DELTA_E
                text = f"{target} dE {result['delta_e']:.1f}"
                row.append(_tile(Image.fromarray(result["out"]), text, good))
        rows.append(row)
    return rows


def _medians(stats: list[dict], what: str) -> None:
    made = [s for s in stats if "refused" not in s]
    refused = len(stats) - len(made)
    if not made:
        print(f"  {what}: all {refused} refused")
        return
    deltas = [s["delta_e"] for s in made]
    print(
        f"  {what}: {len(made)} made, {refused} refused; ΔE2000 median "
        f"{np.median(deltas):.2f}, max {max(deltas):.2f}; "
        f"outside kept exact: min {min(s['exact'] for s in made):.4f}, within 3: min "
        f"{min(s['near'] for s in made):.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data())
    args = parser.parse_args()
    _sheet(packshots(args.data), OUT / "packshots.png")
    print("\nrecolours of packshots (delivered form)")
    stats: list[dict] = []
    garments = sorted((args.data / "garments").iterdir())
    _sheet(recolours(garments, TARGETS, stats), OUT / "recolours.png")
    _medians(stats, "packshots")
    print("\nrecolours of worn garments (model photos, no garment_label)")
    worn: list[dict] = []
    models = sorted((args.data / "pdp").iterdir())
    _sheet(recolours(models, (WORN_TARGET,), worn), OUT / "recolours_worn.png")
    _medians(worn, "model photos")


if __name__ == "__main__":
    main()
