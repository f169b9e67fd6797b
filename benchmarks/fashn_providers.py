"""The same folder under both providers: wall time of `vestis model-swap` (On-Model v2) and
`vestis model-swap --provider fashn`, and the latency of one FASHN prediction through
`FashnClient` (run + wait), against a real server process with the FakeEngine (so the figures
are the transport, queueing and file overhead, not image work).

    python benchmarks/fashn_providers.py [--images 6] [--repeats 3] [--predictions 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.server_process import ServerProcess  # noqa: E402

from vestis.client.fashn import FashnClient  # noqa: E402
from vestis.runs.fashn_provider import image_data_uri  # noqa: E402
from vestis.runs.samples import make_identity_image, make_pdp_photo  # noqa: E402

ENGINE = "tests.support.fake_engine:FakeEngine"


def _cli(server: ServerProcess, *args: str) -> float:
    command = [sys.executable, "-m", "vestis", *args, "--base-url", server.base_url]
    start = time.perf_counter()
    result = subprocess.run(
        [*command, "--token", server.token], capture_output=True, text=True, env=server._env
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--predictions", type=int, default=10)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "ARTICLE-001"
        folder.mkdir()
        for index in range(options.images):
            make_pdp_photo(index).save(folder / f"image{index + 1}.jpg", quality=92)
        identity = root / "identity.jpg"
        make_identity_image().save(identity, quality=92)
        with ServerProcess(root / "server", engine=ENGINE) as server:
            times: dict[str, list[float]] = {"onmodel": [], "fashn": []}
            for repeat in range(options.repeats):
                for provider in times:
                    out = root / f"out-{provider}-{repeat}"
                    args = ["model-swap", "--input-folder", str(folder), "--output-folder",
                            str(out), "--identity-image", str(identity)]  # fmt: skip
                    if provider == "fashn":
                        args += ["--provider", "fashn"]
                    times[provider].append(_cli(server, *args))
            latencies = []
            inputs = {
                "model_image": image_data_uri((folder / "image1.jpg").read_bytes()),
                "face_reference": image_data_uri(identity.read_bytes()),
            }
            with FashnClient(server.token, base_url=server.base_url) as client:
                for _ in range(options.predictions):
                    start = time.perf_counter()
                    final = client.subscribe("model-swap", inputs, poll_interval=0.05)
                    latencies.append(time.perf_counter() - start)
                    assert final.status == "completed", final
    print(f"folder of {options.images} images, {options.repeats} runs each (median seconds):")
    for provider, values in times.items():
        print(f"  {provider:8s} {statistics.median(values):6.2f}  (runs: "
              f"{', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip
    print(
        f"one FASHN prediction, run + wait (poll 50 ms), {options.predictions} in a row: "
        f"median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
