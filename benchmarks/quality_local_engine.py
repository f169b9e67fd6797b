"""Quality and speed of the local engine on the real photos in ../shared/data.

Runs model swap on every pdp/* photo (identities: faces/*.jpg in turn) and flat-to-model on
every garments/* photo (2K, 3:4), prints per image the seconds, the share of pixels outside the
head region left unchanged and whether a face was found, and writes a contact sheet (input,
identity, output side by side) to benchmarks/out/quality_local_engine.png. Single core.

    python benchmarks/quality_local_engine.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from vestis.contract import output_dimensions
from vestis.engines.base import EngineError, FlatGarment, FlatSpec, SwapSpec
from vestis.engines.local import LocalEngine
from vestis.engines.local import faces as faces_module
from vestis.engines.local import flat as flat_module
from vestis.engines.local.faces import ContentCache

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.data import shared_data  # noqa: E402

ROW_HEIGHT = 420


OUT = Path(__file__).parent / "out"


def _tile(image: Image.Image, label: str) -> Image.Image:
    image = image.convert("RGB")
    scaled = image.resize((max(1, image.width * ROW_HEIGHT // image.height), ROW_HEIGHT))
    ImageDraw.Draw(scaled).text((6, 6), label, fill=(255, 0, 0))
    return scaled


def _face_zoom(image: Image.Image, bbox: list[int] | None) -> Image.Image:
    if not bbox:
        return Image.new("RGB", (ROW_HEIGHT, ROW_HEIGHT), "white")
    x0, y0, x1, y1 = bbox
    pad = (x1 - x0) // 2
    crop = image.crop((max(x0 - pad, 0), max(y0 - pad, 0), x1 + pad, y1 + pad))
    return crop.resize((ROW_HEIGHT, ROW_HEIGHT * crop.height // max(crop.width, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data())
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per image (median)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    engine = LocalEngine()
    identities = [Image.open(p).convert("RGB") for p in sorted((args.data / "faces").glob("*.jpg"))]
    for identity in identities:  # warm up the models and the identity cache, as a job would
        engine.detect_face(identity)
    engine.model_swap(SwapSpec(target=identities[0], identity=identities[-1], seed=0))
    print(
        f"single core (cv2 threads: {cv2.getNumThreads()}), median of {args.repeats} runs; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    rows: list[list[Image.Image]] = []
    print(f"{'job':<14}{'image':<28}{'seconds':>8}  {'unchanged outside head':>22}  face")
    for index, path in enumerate(sorted((args.data / "pdp").glob("*"))):
        target = Image.open(path).convert("RGB")
        identity = identities[index % len(identities)]
        runs = []
        for _ in range(args.repeats):
            # The target is analysed cold each time; the identity is cached, as within a job.
            faces_module._face_cache = faces_module.ContentCache()
            faces_module.find_face(np.asarray(identity))
            start = time.perf_counter()
            try:
                out = engine.model_swap(SwapSpec(target=target, identity=identity, seed=1))
            except EngineError as err:
                print(f"{'model swap':<14}{path.name:<28}{'-':>8}  {'-':>22}  no ({err})")
                break
            runs.append(time.perf_counter() - start)
        if not runs:
            continue
        seconds = statistics.median(runs)
        megapixels = target.width * target.height / 1e6
        unchanged = out.metadata["unchanged_outside_head_share"]
        print(
            f"{'model swap':<14}{path.name:<28}{seconds:8.2f}  {unchanged:22.6f}  yes "
            f"({megapixels:.2f} MP, {seconds / megapixels:.2f} s/MP, q={out.quality_score})"
        )
        start = time.perf_counter()
        post = engine.model_swap(
            SwapSpec(target=target, identity=identity, seed=1, post_process=True)
        )
        post_seconds = time.perf_counter() - start
        print(
            f"{'  +post':<14}{path.name:<28}{post_seconds:8.2f}  "
            f"{post.metadata['unchanged_outside_head_share']:22.6f}  "
            f"({post.metadata['skin_pixels_equalised']} skin pixels equalised)"
        )
        bbox = out.metadata["changed_region_bbox"]
        rows.append(
            [
                _tile(target, path.name),
                _tile(identity, "identity"),
                _tile(out.image, "swap"),
                _tile(_face_zoom(target, bbox), "before"),
                _tile(_face_zoom(out.image, bbox), "after"),
                _tile(post.image, "post_process"),
            ]
        )
    width, height = output_dimensions("2K", "3:4")
    garments = sorted((args.data / "garments").glob("*"))
    jobs = [[p] for p in garments] + [garments[1:]]
    # One more: a full-body photo as the identity, to show dressing a real body.
    bodies = sorted((args.data / "pdp").glob("women_model_8*"))
    body_jobs = [(garments[-1:], Image.open(bodies[0]).convert("RGB"))] if bodies else []
    all_jobs = [(group, identities[i % len(identities)]) for i, group in enumerate(jobs)]
    for index, (group, identity) in enumerate(all_jobs + body_jobs):
        items = [FlatGarment(Image.open(p).convert("RGB"), p.name) for p in group]
        spec = FlatSpec(
            garments=items,
            identity=identity,
            width=width,
            height=height,
            seed=index,
            instruction={"background": "light grey studio"},
        )
        runs = []
        flat_module._garment_cache = ContentCache(size=32)  # the first run cuts out cold
        name = "+".join(p.stem for p in group)[:26]
        try:
            for _ in range(args.repeats):
                start = time.perf_counter()
                out = engine.flat_to_model(spec)
                runs.append(time.perf_counter() - start)
        except EngineError as err:  # a refusal is a result too: say it, go on
            print(f"{'flat-to-model':<14}{name:<28}{'refused':>8}  {err}")
            continue
        seconds = statistics.median(runs)
        kinds = ",".join(g["kind"] for g in out.metadata["garments"])
        print(
            f"{'flat-to-model':<14}{name:<28}{seconds:8.2f}  {'n/a':>22}  "
            f"body={out.metadata['body']} kinds={kinds} size={out.image.size} "
            f"(first run, with cut-out: {runs[0]:.2f} s)"
        )
        rows.append(
            [_tile(Image.open(p), p.name) for p in group]
            + [_tile(identity, "identity"), _tile(out.image, "output")]
        )
    sheet_w = max(sum(t.width for t in row) for row in rows)
    sheet = Image.new("RGB", (sheet_w, ROW_HEIGHT * len(rows)), "white")
    for r, row in enumerate(rows):
        x = 0
        for tile in row:
            sheet.paste(tile, (x, r * ROW_HEIGHT))
            x += tile.width
    OUT.mkdir(parents=True, exist_ok=True)
    sheet.save(OUT / "quality_local_engine.png")
    print(f"contact sheet: {OUT / 'quality_local_engine.png'}")


if __name__ == "__main__":
    main()
