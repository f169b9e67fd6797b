"""Flat-to-model on light garments, this checkout against a baseline one, side by side: is each
garment kept whole, is it the right kind, and is a broken output ever delivered in silence?

Cases, each with its true garment mask: the packshots in ../shared/data/garments as they are,
made harder (whitened or creamed, flipped, on off-white, light grey or cream backdrops with a
gradient, a soft shadow and JPEG noise; their masks come from the originals on pure white), and
drawn white and cream garments (tests/engines/drawn_garments.py). Each is cut out and dressed at
2K 3:4 on the mannequin (identity: faces/obama.jpg), under the name IMG_0001.jpg so that the
kind comes from the silhouette. Then the real packshots on the full-length photos of pdp/ as
identities (the identity's own body).

A garment is *whole* when its cut-out matches the true mask (IoU >= 0.9) and its kind is right.
An output is *flagged* when it is refused, carries a warning about the garment, or scores at
most 0.5; a broken output that is not flagged is *silent*. The same measure runs on both
checkouts, each with its own Python (the baseline's .venv), one after the other on this machine.

    python -m benchmarks quality_flat_to_model [--baseline /work/wt/baseline] [--data ...]

Prints one line per case and the counts; writes a contact sheet (photo, true mask, cut-out
before and after, output before and after) to benchmarks/out/quality_flat_to_model.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.data import shared_data  # noqa: E402

OUT = Path(__file__).parent / "out"
WHOLE_IOU = 0.9
TILE = 300
#: Expected kinds (an upper garment with sleeves may be a top or outerwear).
UPPER = ["top", "outerwear"]


# --- the cases ------------------------------------------------------------------------------


def _true_mask(rgb: np.ndarray) -> np.ndarray:
    """The garment of a packshot on pure white: everything darker than the white by more than
    a few levels, holes filled, specks dropped."""
    mask = ((255 - rgb.astype(np.int16)).max(axis=2) > 6).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    flood = np.pad(mask, 1) * 255
    cv2.floodFill(flood, None, (0, 0), 128)
    mask = (flood[1:-1, 1:-1] != 128).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    return np.isin(labels, [i for i in range(1, count) if stats[i, 4] > 2000])


def build_cases(data: Path, folder: Path) -> list[dict]:
    """Write every case (photo.png, mask.png) under `folder`; return their descriptions."""
    sys.path.insert(0, str(ROOT))
    from tests.engines import drawn_garments as drawn

    cases: list[dict] = []

    def add(name: str, image: Image.Image, mask: np.ndarray, kinds: list[str]) -> None:
        image.save(folder / f"{name}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{name}_mask.png")
        cases.append({"name": name, "kinds": kinds})

    real = {"dress": ["dress"], "cardigan": UPPER, "vest": ["top"]}
    files = {"dress": "overall_floral_dress.jpg", "cardigan": "upper_cardigan.jpg",
             "vest": "upper_vest.jpg"}  # fmt: skip
    variants = [
        ("white-on-offwhite", (0.0, 1.0), "offwhite", False),
        ("cream-on-white-flipped", (1.0, 10.0), "white", True),
        ("white-on-lightgrey-flipped", (0.0, 1.0), "lightgrey", True),
        ("ivory-on-cream", (0.5, 6.0), "cream", False),
    ]
    for index, (garment, kinds) in enumerate(real.items()):
        path = data / "garments" / files[garment]
        if not path.is_file():
            continue
        rgb = np.asarray(Image.open(path).convert("RGB"))
        mask = _true_mask(rgb)
        add(f"real-{garment}", Image.fromarray(rgb), mask, kinds)
        for v, (label, tint, backdrop, flip) in enumerate(variants):
            light = drawn.lighten(rgb, tint)
            cover = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.7)
            shown, truth = (light[:, ::-1], cover[:, ::-1]) if flip else (light, cover)
            rng = np.random.default_rng(100 + 10 * index + v)
            image = drawn.on_backdrop(np.ascontiguousarray(shown), np.ascontiguousarray(truth),
                                      drawn.BACKDROPS[backdrop], rng)  # fmt: skip
            add(f"{garment}-{label}", image, truth > 0.5, kinds)
    for name, made in [
        ("drawn-white-shirt", drawn.white_shirt(0)),
        ("drawn-white-shirt-2", drawn.white_shirt(11)),
        ("drawn-cream-dress", drawn.cream_dress(1)),
        ("drawn-cream-dress-trims", drawn.cream_knit_dress_with_trim(2)),
        ("drawn-white-tee-smooth", drawn.draw_garment("tee", drawn.WHITE,
                                                      drawn.BACKDROPS["lightgrey"], 3,
                                                      texture="smooth")),
        ("drawn-cream-trousers", drawn.draw_garment("trousers", drawn.CREAM,
                                                    drawn.BACKDROPS["white"], 4)),
        ("drawn-ivory-shirt-smooth", drawn.draw_garment("shirt", drawn.IVORY,
                                                        drawn.BACKDROPS["cream"], 5,
                                                        texture="smooth")),
        ("drawn-white-knit-dress", drawn.draw_garment("dress", drawn.WHITE,
                                                      drawn.BACKDROPS["white"], 6,
                                                      texture="knit", shadow=0.1)),
    ]:  # fmt: skip
        add(name, made.image, made.mask, [made.kind])
    return cases


# --- the worker: runs in either checkout's Python ---------------------------------------------


def _cut_alpha(rgb: np.ndarray) -> np.ndarray:
    try:  # this checkout
        from vestis.engines.local.cutout import cut_out

        return cut_out(rgb).alpha
    except ImportError:  # the baseline: garments.cut_out -> (alpha, boxes), or raises
        from vestis.engines.local.garments import cut_out as old_cut_out

        try:
            return old_cut_out(rgb)[0]
        except ValueError:  # "no garment found"
            return np.zeros(rgb.shape[:2], np.uint8)


def _dress(engine, garment: Image.Image, identity: Image.Image, name: str) -> dict:  # noqa: ANN001
    from vestis.contract import output_dimensions
    from vestis.engines.base import EngineError, FlatGarment, FlatSpec

    width, height = output_dimensions("2K", "3:4")
    spec = FlatSpec(
        garments=[FlatGarment(garment, name)],
        identity=identity,
        width=width,
        height=height,
        seed=1,
        instruction={"background": "light grey studio"},
    )
    runs, cpu, result = [], [], {}
    for _ in range(2):  # the first cuts the garment out; the second reuses the cut-out
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            out = engine.flat_to_model(spec)
        except EngineError as err:
            return {"refused": str(err), "seconds": [time.perf_counter() - start],
                    "cpu": [time.process_time() - start_cpu]}  # fmt: skip
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        result = {
            "score": out.quality_score,
            "warnings": out.warnings,
            "body": out.metadata["body"],
            "image": out.image,
        }
    return {**result, "seconds": runs, "cpu": cpu}


def worker(folder: Path, tag: str, data: Path) -> None:
    """Cut out and dress every case in `folder` with this Python's vestis; write the results."""
    cv2.setNumThreads(1)
    from vestis.engines.local import LocalEngine
    from vestis.engines.local.garments import prepare

    engine = LocalEngine()
    mannequin = Image.open(data / "faces" / "obama.jpg").convert("RGB")
    # Load the models first, as a running server has: the first call of a worker thread loads
    # mediapipe's graphs (seconds, once), which is not the time of an output.
    _dress(engine, Image.new("RGB", (300, 400), "white").copy(), mannequin, "warm-up.jpg")
    warm = np.full((400, 300, 3), 246, np.uint8)
    warm[80:320, 70:230] = (40, 60, 160)
    _dress(engine, Image.fromarray(warm), mannequin, "warm-up.jpg")
    cases = json.loads((folder / "cases.json").read_text())
    results = {}
    for case in cases:
        name = case["name"]
        photo = Image.open(folder / f"{name}.png").convert("RGB")
        rgb = np.ascontiguousarray(np.asarray(photo))
        alpha = _cut_alpha(rgb)
        Image.fromarray(alpha).save(folder / f"{name}_{tag}_cut.png")
        try:
            kind = prepare(rgb, "IMG_0001.jpg", None).kind
        except ValueError:
            kind = None
        out = _dress(engine, photo, mannequin, "IMG_0001.jpg")
        if "image" in out:
            out.pop("image").save(folder / f"{name}_{tag}_out.jpg", quality=90)
        results[name] = {"kind": kind, **out}
    for garment in ("upper_vest", "upper_cardigan", "overall_floral_dress"):
        for person in ("women_model_8", "women_model_3", "men_simon_1"):
            photo = Image.open(data / "garments" / f"{garment}.jpg").convert("RGB")
            identity = Image.open(data / "pdp" / f"{person}.png").convert("RGB")
            out = _dress(engine, photo, identity, "IMG_0001.jpg")
            key = f"{garment}@{person}"
            if "image" in out:
                out.pop("image").save(folder / f"{key}_{tag}_out.jpg", quality=90)
            results[key] = out
    (folder / f"results_{tag}.json").write_text(json.dumps(results))


# --- the report -------------------------------------------------------------------------------


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return float((a & b).sum()) / union if union else 1.0


def _flagged(result: dict) -> bool:
    if "refused" in result:
        return True
    garment_warnings = [w for w in result["warnings"] if w.startswith("IMG_0001.jpg")]
    return bool(garment_warnings) or result["score"] <= 0.5


def _tile(path: Path, label: str, good: bool | None = None) -> Image.Image:
    if path.is_file():
        image = Image.open(path).convert("RGB")
        image.thumbnail((TILE, TILE))
    else:
        image = Image.new("RGB", (TILE * 3 // 4, TILE), (60, 60, 60))
    tile = Image.new("RGB", (TILE * 3 // 4 if image.height >= image.width else TILE, TILE), "white")
    tile.paste(image, ((tile.width - image.width) // 2, (TILE - image.height) // 2))
    colour = {True: (0, 140, 0), False: (220, 0, 0), None: (0, 0, 0)}[good]
    ImageDraw.Draw(tile).text((4, 4), label, fill=colour)
    return tile


def _cut_view(photo: Path, cut: Path) -> Image.Image:
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    alpha = np.asarray(Image.open(cut)) > 127 if cut.is_file() else np.zeros(rgb.shape[:2], bool)
    view = rgb.copy()
    view[~alpha] = (rgb[~alpha] * 0.25 + np.array([255, 0, 255]) * 0.75).astype(np.uint8)
    return Image.fromarray(view)


def report(folder: Path, cases: list[dict], tags: list[str]) -> list[list[Image.Image]]:
    results = {tag: json.loads((folder / f"results_{tag}.json").read_text()) for tag in tags}
    counts = {tag: {"ok": 0, "false_alarm": 0, "caught": 0, "silent": 0} for tag in tags}
    seconds: dict[str, list[float]] = {tag: [] for tag in tags}
    cold: dict[str, list[float]] = {tag: [] for tag in tags}
    cold_cpu: dict[str, list[float]] = {tag: [] for tag in tags}
    rows = []
    print(f"{'case':<34}" + "".join(f"{t + ': IoU, kind, score, outcome':>44}" for t in tags))
    for case in cases:
        name = case["name"]
        photo = folder / f"{name}.png"
        truth = np.asarray(Image.open(folder / f"{name}_mask.png")) > 127
        cuts, outs, line = [], [], f"{name:<34}"
        for tag in tags:
            result = results[tag][name]
            cut_path = folder / f"{name}_{tag}_cut.png"
            iou = _iou(np.asarray(Image.open(cut_path)) > 127, truth)
            whole = iou >= WHOLE_IOU and result["kind"] in case["kinds"]
            flagged = _flagged(result)
            outcome = ("false_alarm" if flagged else "ok") if whole else (
                "caught" if flagged else "silent")  # fmt: skip
            counts[tag][outcome] += 1
            seconds[tag] += result["seconds"][-1:]
            cold[tag] += result["seconds"][:1]
            cold_cpu[tag] += result["cpu"][:1]
            score = "refused" if "refused" in result else f"{result['score']:.2f}"
            line += f"{iou:>14.3f} {result['kind'] or '-':>10} {score:>8} {outcome:>11}"
            cut_label = f"{tag}: IoU {iou:.2f}, {result['kind']}"
            cuts.append(_tile_image(_cut_view(photo, cut_path), cut_label, whole))
            out_label = f"{tag}: {score}{', flagged' if flagged else ''}"
            good = None if whole else flagged
            outs.append(_tile(folder / f"{name}_{tag}_out.jpg", out_label, good))
        print(line)
        rows.append([_tile(photo, name), _tile(folder / f"{name}_mask.png", "truth")] + cuts + outs)
    print()
    for tag in tags:
        c, n = counts[tag], len(cases)
        print(
            f"{tag:>8}: garments whole {c['ok'] + c['false_alarm']}/{n} "
            f"(of them flagged anyway: {c['false_alarm']}); broken and flagged {c['caught']}; "
            f"broken in silence {c['silent']}; seconds per 2K output: first of a job (with the "
            f"cut-out) median {np.median(cold[tag]):.2f}, max {np.max(cold[tag]):.2f} (CPU "
            f"median {np.median(cold_cpu[tag]):.2f}, max {np.max(cold_cpu[tag]):.2f}); next "
            f"ones median {np.median(seconds[tag]):.2f}, max {np.max(seconds[tag]):.2f}"
        )
    return rows + _identity_rows(folder, tags, results)


def _tile_image(image: Image.Image, label: str, good: bool | None) -> Image.Image:
    image = image.copy()
    image.thumbnail((TILE, TILE))
    tile = Image.new("RGB", (TILE * 3 // 4 if image.height >= image.width else TILE, TILE), "white")
    tile.paste(image, ((tile.width - image.width) // 2, (TILE - image.height) // 2))
    colour = {True: (0, 140, 0), False: (220, 0, 0), None: (0, 0, 0)}[good]
    ImageDraw.Draw(tile).text((4, 4), label, fill=colour)
    return tile


def _identity_rows(folder: Path, tags: list[str], results: dict) -> list[list[Image.Image]]:
    print("\nthe identity's own body (garment @ identity photo): body used, warnings")
    rows = []
    for key in [k for k in results[tags[0]] if "@" in k]:
        line, row = f"{key:<40}", []
        for tag in tags:
            result = results[tag][key]
            if "refused" in result:
                line += f" | {tag}: refused ({result['refused'][:60]})"
                label = f"{tag}: refused"
            else:
                notes = "; ".join(w[:70] for w in result["warnings"]) or "no warning"
                line += f" | {tag}: {result['body']}, {result['score']:.2f}, {notes}"
                label = f"{tag}: {result['body']} {result['score']:.2f}"
            row.append(_tile(folder / f"{key}_{tag}_out.jpg", label))
        print(line)
        rows.append([_tile(folder / f"{key.split('@')[1]}.png", key)] + row)
    return rows


def _sheet(rows: list[list[Image.Image]], path: Path) -> None:
    width = max(sum(t.width for t in row) for row in rows)
    sheet = Image.new("RGB", (width, TILE * len(rows)), "white")
    for r, row in enumerate(rows):
        x = 0
        for tile in row:
            sheet.paste(tile, (x, r * TILE))
            x += tile.width
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    print(f"contact sheet: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data())
    parser.add_argument("--baseline", type=Path, default=Path("/work/wt/baseline"),
                        help="a checkout of the code before, with its own .venv")  # fmt: skip
    parser.add_argument("--worker", nargs=2, metavar=("FOLDER", "TAG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), args.worker[1], args.data)
        return
    with tempfile.TemporaryDirectory(prefix="flat-bench-") as tmp:
        folder = Path(tmp)
        cases = build_cases(args.data, folder)
        (folder / "cases.json").write_text(json.dumps(cases))
        for pdp in (args.data / "pdp").glob("*.png"):
            Image.open(pdp).save(folder / pdp.name)
        tags = []
        baseline_python = args.baseline / ".venv" / "bin" / "python"
        runs = [("before", baseline_python, args.baseline)] if baseline_python.is_file() else []
        runs.append(("after", Path(sys.executable), ROOT))
        print(f"load average {os.getloadavg()[0]:.1f}; {len(cases)} cases")
        for tag, python, checkout in runs:
            env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
            command = [str(python), __file__, "--worker", str(folder), tag]
            command += ["--data", str(args.data)]
            done = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True)
            if done.returncode:  # mediapipe's own chatter goes to stderr: show it on failure only
                sys.exit(f"{tag} worker failed:\n{done.stderr[-3000:]}")
            tags.append(tag)
        _sheet(report(folder, cases, tags), OUT / "quality_flat_to_model.png")


if __name__ == "__main__":
    main()
