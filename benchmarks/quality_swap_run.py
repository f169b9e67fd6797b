"""Run the local engine's model swap on a list of (target, identity) files and save the outputs.

A helper of `benchmarks/quality.py`, run as a subprocess by whichever checkout's Python is being
measured (this one, or an older checkout for "before" figures), so that every engine gets the
same input files and its outputs are measured afterwards by one and the same measure. It uses only
the Engine protocol (`LocalEngine().model_swap(SwapSpec(...))`), which every version has.

    python quality_swap_run.py < job.json     # {"seed": 1, "pairs": [{"target", "identity",
                                              #  "output"}, ...]}; one JSON line per pair out
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import cv2
    from PIL import Image

    import vestis
    from vestis.engines.base import EngineError, SwapSpec
    from vestis.engines.local import LocalEngine

    cv2.setNumThreads(1)
    print(json.dumps({"vestis": vestis.__file__}), flush=True)
    job = json.load(sys.stdin)
    engine = LocalEngine()
    warm = Image.open(job["pairs"][0]["target"]).convert("RGB")
    with contextlib.suppress(EngineError):  # load the models once, as a server has them
        engine.model_swap(SwapSpec(target=warm, identity=warm, seed=0))
    for pair in job["pairs"]:
        target = Image.open(pair["target"]).convert("RGB")
        identity = Image.open(pair["identity"]).convert("RGB")
        engine.detect_face(identity)  # the identity is analysed once per job, not per output
        start = time.perf_counter()
        try:
            out = engine.model_swap(SwapSpec(target=target, identity=identity, seed=job["seed"]))
        except EngineError as err:
            print(json.dumps({"output": pair["output"], "error": str(err)}), flush=True)
            continue
        seconds = time.perf_counter() - start
        out.image.save(pair["output"])
        line = {
            "output": pair["output"],
            "seconds": round(seconds, 3),
            "megapixels": target.width * target.height / 1e6,
            "engine_score": out.quality_score,
            "warnings": out.warnings,
        }
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
