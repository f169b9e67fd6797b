"""What a gateway costs: `vestis serve --engine onmodel` in front of another `vestis serve`.

Two real upstream server processes (FakeEngine, so image work takes no time and what is
measured is the gateway) and two gateways pointed at them, all on loopback:

1. Overhead per job: the same job (upload the photos, create, wait over SSE, read the results,
   download every output), run JOBS times directly against the upstream and through a gateway,
   side by side; the median difference is what the gateway adds (goal: <= 0.3 s). Model swap is
   measured with the garment lock on (the default: a face mesh, segmentation and skin model on
   every output) and off (`--no-garment-lock`), and flat-to-model (never locked).
2. A batch at the upstream's limit: `vestis batch-swap` of FOLDERS folders through the gateway
   (no pacing by the client, no limit on the gateway: the gateway keeps to the upstream's
   `--rate-limit 5` itself), against that limit's bound: FOLDERS jobs at 5 per window cannot be
   accepted before (ceil(FOLDERS / 5) - 1) windows, plus one job's own time (goal: <= 1.05x).
   `--window 60` is the real limit (about 3 minutes for 20 folders); a shorter window measures
   the same thing faster.

    python benchmarks/gateway.py [--jobs 10] [--folders 20] [--images 2] [--window 60]

Writes benchmarks/out/gateway.json.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.server_process import ServerProcess  # noqa: E402

from vestis.client import Client  # noqa: E402
from vestis.runs.samples import make_flat_lay, make_identity_image, make_pdp_photo  # noqa: E402

FAKE = "tests.support.fake_engine:FakeEngine"
OUT = Path(__file__).resolve().parent / "out"


def _jpeg(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def gateway_env(upstream: ServerProcess, rate: str | None = None) -> dict[str, str]:
    env = {
        "VESTIS_ONMODEL_URL": upstream.base_url,
        "VESTIS_ONMODEL_TOKEN": upstream.token,
        "VESTIS_ONMODEL_POLL_INTERVAL": "1",
        # the first upstream has no limit: pacing would be measured, not the gateway
        "VESTIS_ONMODEL_JOB_RATE": rate or "off",
    }
    return env


class Job:
    """One job, start to finish, as a client does it; `run(server)` returns its seconds."""

    def __init__(self, kind: str, images: int) -> None:
        self.kind = kind
        if kind == "swap":
            self.files = [(f"image{i + 1}.jpg", _jpeg(make_pdp_photo(i))) for i in range(images)]
        else:
            garments = [make_flat_lay("top", (30, 90, 160)), make_flat_lay("bottom")]
            self.files = [(f"sku{i}.jpg", _jpeg(g)) for i, g in enumerate(garments[:images])]
        self.identity = _jpeg(make_identity_image())
        self.codes: dict[str, tuple[str, str]] = {}

    def _prepare(self, client: Client, server: ServerProcess) -> tuple[str, str]:
        if server.base_url not in self.codes:
            project = client.projects.ensure(f"bench-{self.kind}")
            code = client.identities.ensure(self.identity, "bench", filename="bench.jpg")
            self.codes[server.base_url] = (project, code)
        return self.codes[server.base_url]

    def run(self, server: ServerProcess) -> float:
        with Client(server.base_url, token=server.token, max_retries=2) as client:
            project, code = self._prepare(client, server)
            start = time.perf_counter()
            file_ids = [client.uploads.upload_bytes(data, name) for name, data in self.files]
            body: dict[str, Any] = {"identity_code": code, "project_id": project}
            if self.kind == "swap":
                created = client.jobs.model_swap({**body, "images": file_ids})
            else:
                instructions = [{"pose": "standing"}, {"background": "white studio"}]
                created = client.jobs.flat_to_model(
                    {**body, "images": file_ids, "instructions": instructions}
                )
            client.jobs.wait(created.job_id, poll_interval=0.5)
            results = client.jobs.results(created.job_id)
            for result in results.results:
                assert result.image_url, result
                client.downloads.fetch(result.image_url)
            return time.perf_counter() - start


def overhead(
    jobs: int, job: Job, direct: ServerProcess, gateway: ServerProcess
) -> dict[str, float]:
    job.run(direct)  # warm-up: identity, project, and the gateway's mediapipe models
    job.run(gateway)
    pairs = [(job.run(direct), job.run(gateway)) for _ in range(jobs)]
    added = [g - d for d, g in pairs]
    return {
        "direct_median_s": round(statistics.median(d for d, _ in pairs), 3),
        "gateway_median_s": round(statistics.median(g for _, g in pairs), 3),
        "added_median_s": round(statistics.median(added), 3),
        "added_max_s": round(max(added), 3),
    }


def batch(
    root: Path, folders: int, images: int, window: int, one_job: Callable[[], float]
) -> dict[str, float]:
    rate_args = ["--rate-limit-window", str(window)]
    upstream = ServerProcess(
        root / "limited-upstream", engine=FAKE, rate_limit=5, extra_args=rate_args, workers=4
    )
    with upstream:
        env = gateway_env(upstream, rate=f"5/{window} seconds")
        gateway = ServerProcess(root / "limited-gateway", engine="onmodel", env=env, workers=8)
        with gateway:
            catalogue = root / "catalogue"
            for index in range(folders):
                folder = catalogue / f"ARTICLE-{index:03d}"
                folder.mkdir(parents=True)
                for number in range(images):
                    (folder / f"image{number + 1}.jpg").write_bytes(_jpeg(make_pdp_photo(number)))
            identity = root / "identity.jpg"
            identity.write_bytes(_jpeg(make_identity_image()))
            single = one_job()
            command = [
                sys.executable, "-m", "vestis", "batch-swap",
                "--input-dir", str(catalogue), "--identity-image", str(identity),
                "--output-dir", str(root / "batch-out"), "--parallel", "5",
                "--jobs-per-minute", "0", "--base-url", gateway.base_url, "--quiet",
            ]  # fmt: skip
            env_cli = {**os.environ, "VESTIS_TOKEN": gateway.token}
            start = time.perf_counter()
            done = subprocess.run(command, env=env_cli, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"batch failed:\n{done.stdout}{done.stderr}")
    bound = (math.ceil(folders / 5) - 1) * window + single
    return {
        "folders": folders,
        "window_s": window,
        "wall_s": round(wall, 2),
        "bound_s": round(bound, 2),
        "ratio": round(wall / bound, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--folders", type=int, default=20)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--skip-batch", action="store_true")
    options = parser.parse_args()
    report: dict[str, Any] = {"jobs": options.jobs, "images_per_job": options.images}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with ServerProcess(root / "upstream", engine=FAKE, workers=4) as upstream:
            env = gateway_env(upstream)
            locked = ServerProcess(root / "gw-lock", engine="onmodel", env=env, workers=4)
            unlocked = ServerProcess(
                root / "gw-nolock", engine="onmodel", env=env, workers=4,
                extra_args=["--no-garment-lock"],
            )  # fmt: skip
            with locked, unlocked:
                swap, flat = Job("swap", options.images), Job("flat", options.images)
                report["model_swap_garment_lock"] = overhead(options.jobs, swap, upstream, locked)
                report["model_swap_no_lock"] = overhead(options.jobs, swap, upstream, unlocked)
                report["flat_to_model"] = overhead(options.jobs, flat, upstream, unlocked)
                for name in ("model_swap_garment_lock", "model_swap_no_lock", "flat_to_model"):
                    print(f"{name:<24} {report[name]}")
        if not options.skip_batch:
            report["batch"] = batch(
                root, options.folders, options.images, options.window,
                lambda: report["model_swap_no_lock"]["direct_median_s"],
            )  # fmt: skip
            print(f"{'batch at 5/window':<24} {report['batch']}")
    OUT.mkdir(exist_ok=True)
    (OUT / "gateway.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
