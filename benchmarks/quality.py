"""Is the model swap the identity? Before and after, on real catalogue photos, one measure.

Every PDP photo of `--data`/pdp is swapped with every identity: `--data`/faces/*.jpg and the
demo's two identities (Grace Hopper's portrait; the astronaut, mirrored and warmed). Two engines
make the outputs, each in its own subprocess, from the same input files: the local engine of this
checkout ("after") and the local engine of an older checkout ("before": `--before DIR`, by default
/work/wt/baseline when it exists, else commit 19c947f's src/ extracted by `git archive`; it runs
with DIR/.venv/bin/python when there is one, else with this Python). Then this process measures
every output with `vestis.quality`, pinned to one core, and prints per pair:

  d(id)   distance output -> identity (same person below 0.6)
  d(orig) distance output -> the original model of the photo (should be above 0.6)
  kept    share of pixels outside the head within +-3 of the photo
  sharp   sharpness of the inner face, output / photo (below 0.7 looks smeared)

then the medians, how many swaps pass (d(id) < 0.6 and d(orig) > 0.6), the seconds of measuring
one output (its target measured cold, the identity cached as within a job) and the engine's
seconds per megapixel. A contact sheet (identity | photo | before | after, faces zoomed, and the
whole "after" output) goes to benchmarks/out/quality.png.

    python -m benchmarks quality [--data ../shared/data] [--before /work/wt/baseline]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from vestis import quality  # noqa: E402
from vestis.quality import faces as quality_faces  # noqa: E402
from vestis.runs import samples  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import quality_realism  # noqa: E402
from benchmarks.data import shared_data  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
BASELINE_DIR = Path("/work/wt/baseline")
#: The local engine before issue 16 (expression, refusals, realism).
BASELINE_COMMIT = "960ccff"
TILE = 200


@dataclass
class Pair:
    name: str
    target: Path
    identity: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    runs: dict[str, dict] = field(default_factory=dict)
    measures: dict[str, quality.OutputMeasures] = field(default_factory=dict)


def _inputs(data: Path, work: Path) -> list[Pair]:
    """The pairs, as files both engines read: the demo identities are written out once."""
    identities = sorted((data / "faces").glob("*.jpg"))
    demo = {
        "demo_hopper.png": samples.make_portrait_identity_image(),
        "demo_astronaut.png": samples.make_identity_image(),
    }
    for name, image in demo.items():
        image.save(work / name)
        identities.append(work / name)
    targets = sorted(p for p in (data / "pdp").iterdir() if p.suffix.lower() in (".png", ".jpg"))
    return [Pair(f"{t.stem} x {i.stem}", t, i) for t in targets for i in identities]


def _checkout(before: Path | None, work: Path) -> tuple[list[str], dict[str, str], str]:
    """The command and environment that run the "before" engine, and a label for it."""
    env = dict(os.environ)
    if before is None and BASELINE_DIR.is_dir():
        before = BASELINE_DIR
    if before is None:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", BASELINE_COMMIT, "src"],
            check=True,
            capture_output=True,
        ).stdout
        before = work / "before"
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(before, filter="data")
    python = before / ".venv" / "bin" / "python"
    if not python.exists():
        python = Path(sys.executable)
        env["PYTHONPATH"] = str(before / "src")
    return [str(python), str(HERE / "quality_swap_run.py")], env, str(before)


def _run_engine(label: str, command: list[str], env: dict, pairs: list[Pair], work: Path) -> None:
    folder = work / f"outputs-{label}"
    folder.mkdir()
    job = {"seed": 1, "pairs": []}
    for index, pair in enumerate(pairs):
        pair.outputs[label] = folder / f"{index:02d}.png"
        job["pairs"].append(
            {"target": str(pair.target), "identity": str(pair.identity),
             "output": str(pair.outputs[label])}
        )  # fmt: skip
    by_output = {str(p.outputs[label]): p for p in pairs}
    done = subprocess.run(
        command, input=json.dumps(job), env=env, capture_output=True, text=True, check=False
    )
    for line in done.stdout.splitlines():
        record = json.loads(line)
        if "vestis" in record:
            print(f"{label}: engine from {Path(record['vestis']).parents[2]}")
            continue
        by_output[record["output"]].runs[label] = record
    if done.returncode != 0:
        print(done.stderr[-3000:])
        raise SystemExit(f"the {label} engine failed (exit {done.returncode})")


def _timed(work):  # type: ignore[no-untyped-def]
    """`work()`, its wall-clock seconds and this process's CPU seconds (the CPU figure is what
    one core spends, and barely moves when other processes share the machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _measure(pairs: list[Pair], labels: list[str]) -> list[tuple[float, float]]:
    """Measure every output; the (wall, CPU) seconds each measure took with a cold target."""
    seconds = []
    warm = Image.open(pairs[0].target).convert("RGB")
    quality.measure_swap(warm, warm, warm)  # load the models, as a running server has them
    for pair in pairs:
        target = Image.open(pair.target).convert("RGB")
        identity = Image.open(pair.identity).convert("RGB")
        for label in labels:
            if "error" in pair.runs.get(label, {"error": "no output"}):
                continue
            output = Image.open(pair.outputs[label]).convert("RGB")
            quality_faces._cache = quality_faces._Cache()  # the target cold, as for a new output
            quality.face_signature(identity)  # the identity warm, as within a job
            measures, wall, cpu = _timed(lambda: quality.measure_swap(target, identity, output))  # noqa: B023
            pair.measures[label] = measures
            seconds.append((wall, cpu))
    return seconds


def _jpeg_delivery(pairs: list[Pair], label: str) -> None:
    """A JPEG catalogue photo through the server's delivery: the swap's head pasted on the JPEG
    (as an engine would return it), then encoded as delivered before (quality 92, 4:2:0) and now
    (the source's tables and subsampling, untouched blocks copied): pixels outside the head
    within +-3 of the JPEG as uploaded, and the seconds it all adds (encode + measure)."""
    from vestis.engines.base import EngineOutput, SwapSpec
    from vestis.server.media import images
    from vestis.server.pipeline import delivery

    rows = []
    for pair in pairs[:: max(1, len(pairs) // 4)]:
        m = pair.measures.get(label)
        if m is None or m.region is None:
            continue
        x0, y0, x1, y1 = m.region
        photo = Image.open(pair.target).convert("RGB")
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=90)  # a typical catalogue JPEG (4:2:0)
        source = images.open_image(buffer.getvalue())
        made = source.copy()
        made.paste(Image.open(pair.outputs[label]).convert("RGB").crop(m.region), (x0, y0))
        identity = Image.open(pair.identity).convert("RGB")
        spec = SwapSpec(target=source, identity=identity, seed=1)
        quality.face_signature(identity)
        old, _, plain = _timed(lambda: images.encode(made, "jpg"))  # noqa: B023
        quality_faces._cache = quality_faces._Cache()
        quality.face_signature(identity)
        new, _, seconds = _timed(
            lambda: delivery.deliver(spec, EngineOutput(image=made, model_used="x"), "jpg")  # noqa: B023
        )
        ref = np.asarray(source)
        kept_old = quality.unchanged_share(_decoded(old), ref, m.region)
        kept_new = quality.unchanged_share(_decoded(new.data), ref, m.region)
        rows.append((pair.target.stem, kept_old, kept_new, seconds - plain))
    print("\nJPEG delivery (source: the photo as a quality-90 JPEG), pixels outside the head "
          "within +-3 of the upload:")  # fmt: skip
    print(f"{'photo':<20}{'q92 4:2:0 (before)':>20}{'as the source (now)':>21}{'adds CPU s':>11}")
    for name, before, now, added in rows:
        print(f"{name:<20}{before:>20.4f}{now:>21.4f}{added:>11.3f}")


def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _cells(pair: Pair, label: str) -> str:
    m = pair.measures.get(label)
    if m is None:
        return f"{'(' + pair.runs.get(label, {}).get('error', 'no output')[:30] + ')':<30}"
    return (
        f"{_fmt(m.identity_distance):>6} {_fmt(m.original_distance):>7} "
        f"{_fmt(m.unchanged_outside_head, 4):>7} {_fmt(m.sharpness_ratio):>6}"
    )


def _passes(m: quality.OutputMeasures | None) -> bool:
    return bool(
        m is not None
        and m.identity_distance is not None
        and m.identity_distance < quality.SAME_PERSON
        and m.original_distance is not None
        and m.original_distance > quality.SAME_PERSON
    )


def _median(values: list[float | None], digits: int = 2) -> str:
    found = [v for v in values if v is not None]
    return _fmt(statistics.median(found), digits) if found else "-"


def _report(
    pairs: list[Pair], labels: list[str], measure_seconds: list[tuple[float, float]]
) -> None:
    head = f"{'d(id)':>6} {'d(orig)':>7} {'kept':>7} {'sharp':>6}"
    print(f"\n{'pair':<34}" + " | ".join(f"{label:^30}" for label in labels))
    print(f"{'':<34}" + " | ".join(head for _ in labels))
    for pair in pairs:
        print(f"{pair.name[:33]:<34}" + " | ".join(_cells(pair, label) for label in labels))
    print(f"{'median':<34}", end="")
    cells = []
    for label in labels:
        ms = [p.measures.get(label) for p in pairs]
        cells.append(
            f"{_median([m.identity_distance if m else None for m in ms]):>6} "
            f"{_median([m.original_distance if m else None for m in ms]):>7} "
            f"{_median([m.unchanged_outside_head if m else None for m in ms], 4):>7} "
            f"{_median([m.sharpness_ratio if m else None for m in ms]):>6}"
        )
    print(" | ".join(cells))
    for label in labels:
        passed = sum(_passes(p.measures.get(label)) for p in pairs)
        runs = [p.runs[label] for p in pairs if "seconds" in p.runs.get(label, {})]
        per_mp = statistics.median(r["seconds"] / r["megapixels"] for r in runs) if runs else 0
        all_kept = sum(
            1 for p in pairs if (m := p.measures.get(label)) and m.unchanged_outside_head == 1.0
        )
        sharp = sum(
            1 for p in pairs if (m := p.measures.get(label)) and (m.sharpness_ratio or 0) >= 0.7
        )
        print(
            f"{label}: {passed}/{len(pairs)} swaps are the identity and not the original "
            f"(d(id) < 0.6, d(orig) > 0.6); every pixel outside the head kept in "
            f"{all_kept}/{len(pairs)}; sharpness ratio >= 0.7 in {sharp}/{len(pairs)}; "
            f"engine {per_mp:.2f} s/MP (median; each photo's face analysed once, then cached)"
        )
    walls = [wall for wall, _ in measure_seconds]
    cpus = [cpu for _, cpu in measure_seconds]
    print(
        f"measuring one output (target cold, identity cached, one core): CPU median "
        f"{statistics.median(cpus):.3f} s, max {max(cpus):.3f} s; wall-clock median "
        f"{statistics.median(walls):.3f} s, max {max(walls):.3f} s"
    )


def _zoom(image: Image.Image, box: tuple[int, int, int, int] | None) -> Image.Image:
    if box is None:
        return image.resize((TILE, TILE * image.height // image.width)).crop((0, 0, TILE, TILE))
    x0, y0, x1, y1 = box
    pad = (x1 - x0) * 3 // 4
    crop = image.crop((x0 - pad, y0 - pad, x1 + pad, y1 + pad))
    return crop.resize((TILE, TILE), Image.Resampling.LANCZOS)


def _label(tile: Image.Image, text: str) -> Image.Image:
    draw = ImageDraw.Draw(tile)
    draw.rectangle((0, 0, TILE, 14), fill=(255, 255, 255))
    draw.text((3, 2), text, fill=(200, 0, 0))
    return tile


def _contact_sheet(pairs: list[Pair], labels: list[str], path: Path) -> None:
    rows = []
    for pair in pairs:
        identity = Image.open(pair.identity).convert("RGB")
        target = Image.open(pair.target).convert("RGB")
        id_face = quality.face_signature(identity)
        t_face = quality.face_signature(target)
        box = t_face.box if t_face else None
        row = [
            _label(_zoom(identity, id_face.box if id_face else None), pair.identity.stem),
            _label(_zoom(target, box), pair.target.stem),
        ]
        for label in labels:
            m = pair.measures.get(label)
            if m is None:
                row.append(_label(Image.new("RGB", (TILE, TILE), "white"), f"{label}: failed"))
                continue
            output = Image.open(pair.outputs[label]).convert("RGB")
            text = f"{label} id {_fmt(m.identity_distance)} orig {_fmt(m.original_distance)}"
            row.append(_label(_zoom(output, box), text))
        last = next((lb for lb in reversed(labels) if lb in pair.measures), None)
        if last is not None:
            whole = Image.open(pair.outputs[last]).convert("RGB")
            whole.thumbnail((TILE, TILE))
            row.append(whole)
        rows.append(row)
    sheet = Image.new("RGB", (TILE * (len(labels) + 3), TILE * len(rows)), "white")
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            sheet.paste(tile, (c * TILE, r * TILE))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    print(f"contact sheet: {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data())
    parser.add_argument("--before", type=Path, default=None, help="an older checkout to compare")
    parser.add_argument("--no-before", action="store_true", help="measure this checkout only")
    parser.add_argument("--sheet", type=Path, default=OUT / "quality.png")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="vestis-quality-") as tmp:
        work = Path(tmp)
        pairs = _inputs(args.data, work)
        engines = [("after", [sys.executable, str(HERE / "quality_swap_run.py")], dict(os.environ))]
        if not args.no_before:
            command, env, where = _checkout(args.before, work)
            engines.insert(0, ("before", command, env))
        labels = [label for label, _, _ in engines]
        for label, command, env in engines:
            _run_engine(label, command, env, pairs, work)
        seconds = _measure(pairs, labels)
        _report(pairs, labels, seconds)
        grades = quality_realism.load_grades()
        for label in labels:
            quality_realism.engine_figures(pairs, label)
        quality_realism.agreement(pairs, labels, grades)
        quality_realism.real_photos(args.data)
        _jpeg_delivery(pairs, labels[-1])
        _contact_sheet(pairs, labels, args.sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
