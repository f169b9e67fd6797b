"""mediapipe's native log lines (absl, TFLite) never reach the user's stderr, and stderr works
as before once the models are loaded (a fresh process: the lines come once per process). The
server runs the engine and then measures every output (vestis.quality, which locates faces with
mediapipe too): both load their graphs in the same worker threads."""

from __future__ import annotations

import subprocess
import sys

from tests.support.server_process import REPO_ROOT

SCRIPT = """
import os, sys, threading
from vestis.engines.base import FlatGarment, FlatSpec, SwapSpec
from vestis.engines.local import LocalEngine
from vestis.quality import measure_swap
from vestis.runs import samples

engine = LocalEngine()
pdp, identity = samples.make_pdp_photo(0), samples.make_identity_image()
garments = [FlatGarment(samples.make_flat_lay("top", (196, 52, 60)), "top.jpg")]

def work():
    output = engine.model_swap(SwapSpec(target=pdp, identity=identity, seed=1))
    measure_swap(pdp, identity, output.image)
    engine.flat_to_model(FlatSpec(garments=garments, identity=identity, width=192, height=256,
                                  seed=1))

threads = [threading.Thread(target=work) for _ in range(2)]  # each thread loads its own models
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("python stderr", file=sys.stderr)
os.write(2, b"fd 2\\n")
"""


def test_model_loading_prints_nothing_and_leaves_stderr_working() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["python stderr", "fd 2"]
