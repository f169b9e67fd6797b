"""The realism figures of `python -m benchmarks quality` (issue 16): for each engine, what it
made and refused, how many swaps are the identity, how many have the photo's sharpness, how many
the realism measure passes; and how often the measure agrees with a person's eye on the graded
outputs of benchmarks/realism/grades.csv, and on real photos measured as their own output (as
they are, and re-encoded as a JPEG of quality 90, as a delivery would).

The grades are of the outputs these same engines make on ../shared/data (seed 1): a grade is
matched to an output by its (target, identity) file names and the engine's label.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vestis import quality
from vestis.quality.realism import SHARPNESS_BAND, measure_realism

GRADES = Path(__file__).resolve().parent / "realism" / "grades.csv"


def load_grades() -> dict[tuple[str, str, str], str]:
    """(set, target stem, identity stem) -> grade."""
    with GRADES.open() as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
    return {(r[0], r[1], r[2]): r[3] for r in rows[1:] if len(r) >= 4}


def _share(hits: int, total: int) -> str:
    return f"{hits}/{total} ({hits / total:.0%})" if total else "0/0"


def engine_figures(pairs: list[Any], label: str) -> None:
    """One engine's outputs: made, refused (by reason), identity, sharpness, realism."""
    made = [p for p in pairs if label in p.measures]
    refused = Counter(
        p.runs[label]["error"].split(":")[0][:70] for p in pairs if "error" in p.runs.get(label, {})
    )
    ident = sum(1 for p in made if p.measures[label].is_identity)
    band = sum(
        1 for p in made
        if p.measures[label].sharpness_ratio is not None
        and SHARPNESS_BAND[0] <= p.measures[label].sharpness_ratio <= SHARPNESS_BAND[1]
    )  # fmt: skip
    real = [p for p in made if p.measures[label].realism is not None]
    ok = sum(1 for p in real if p.measures[label].realism.ok)
    defects = Counter(d for p in real for d in p.measures[label].realism.defects)
    print(f"\n[{label}] {len(pairs)} pairs: {len(made)} made, {sum(refused.values())} refused")
    for reason, n in refused.most_common():
        print(f"    refused {n:>3}: {reason}")
    print(f"  identity (d(id) < 0.6, d(orig) > 0.6): {_share(ident, len(made))} of those made")
    print(f"  sharpness in {SHARPNESS_BAND}: {_share(band, len(made))}")
    print(f"  realism ok: {_share(ok, len(real))}; defects: {dict(defects.most_common())}")


def agreement(pairs: list[Any], labels: list[str], grades: dict[tuple[str, str, str], str]) -> None:
    """The measure against the grades: the share of C it flags, of A/B it flags."""
    flagged: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    by_grade: dict[str, Counter[str]] = {label: Counter() for label in labels}
    for pair in pairs:
        for label in labels:
            grade = grades.get((label, pair.target.stem, pair.identity.stem))
            m = pair.measures.get(label)
            if grade is None or m is None or m.realism is None:
                continue
            seen[grade] += 1
            by_grade[label][grade] += 1
            flagged[grade] += 0 if m.realism.ok else 1
    print("\nthe realism measure against a person's grades (benchmarks/realism/grades.csv)")
    for label in labels:
        counts = by_grade[label]
        print(f"  {label}: graded A {counts['A']}, B {counts['B']}, C {counts['C']}")
    ab = seen["A"] + seen["B"]
    print(f"  C flagged: {_share(flagged['C'], seen['C'])}")
    print(f"  A or B flagged: {_share(flagged['A'] + flagged['B'], ab)} (a B needs a retoucher)")


def real_photos(data: Path) -> None:
    """Unmodified photos measured as their own output, as they are and as a q90 JPEG."""
    total = ok = 0
    cpu: list[float] = []
    import time

    files = sorted(p for d in ("pdp", "faces") for p in (data / d).iterdir())
    for path in files:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        face = quality.face_signature(rgb)
        if face is None:
            continue
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
        again = np.asarray(Image.open(buffer).convert("RGB"))
        for output in (rgb, again):
            start = time.process_time()
            report = measure_realism(rgb, output, face.located)
            cpu.append(time.process_time() - start)
            total += 1
            ok += report.ok
    print(f"  real photos whose realism is ok: {_share(ok, total)} "
          f"({len(files)} photos, as they are and as q90 JPEGs)")  # fmt: skip
    print(f"  realism measure CPU s per output: median {np.median(cpu):.3f}, max {max(cpu):.3f}")
