"""A catalogue batch under the hosted API's rate limit: vestis vs the reference scripts' way.

Starts a real server process (FakeEngine, so image work takes no time and the rate limit is
what matters) with the default limit of 5 job creations per user per minute, builds FOLDERS
folders of IMAGES PDP photos each, and runs the same model-swap batch twice, each as its own
user (the limit is per user, so the runs do not share a window):

* vestis: `vestis batch-swap --parallel 5` (paced submissions, concurrent transfers, SSE);
* reference: the reference scripts' algorithm, implemented below: a pool of 3 workers (the
  default), each folder creating its project, uploading its images one by one, then submitting
  with the retry wrapper (retries only on 429, waits 1, 2, 4, 8, 16 s +-20 %, then gives up),
  waiting 5 s and polling status every 5 s, then downloading one by one.

Reports the total time of each beside the bound the limit sets: N jobs at 5 per minute cannot
all be submitted before (ceil(N / 5) - 1) minutes. The reference run leaves folders failed (429
retries exhausted), so it is also run again on its failed folders, as a user would, until every
folder is done; that total is reported too.

    python benchmarks/bench_batch.py [--folders 20] [--images 4] [--rate-limit 5]

Writes benchmarks/out/bench_batch.json. Takes several minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server_process import ServerProcess  # noqa: E402

from vestis.runs.samples import make_identity_image, make_pdp_photo  # noqa: E402

OUT = ROOT / "benchmarks" / "out"


def build_catalogue(root: Path, folders: int, images: int) -> tuple[Path, Path]:
    pdp = root / "pdp"
    for folder in range(folders):
        path = pdp / f"ARTICLE-{folder + 1:03d}"
        path.mkdir(parents=True)
        for shot in range(images):
            make_pdp_photo(folder * images + shot).save(path / f"shot-{shot + 1}.jpg", quality=90)
    identity = root / "identity.jpg"
    make_identity_image().save(identity, quality=92)
    return pdp, identity


# --- the reference scripts' algorithm ------------------------------------------------------------


class ReferenceRunner:
    """What model_swap.py / batch_swap.py do (spec §3, §4, §5), on httpx instead of requests."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.requests = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The retry wrapper: only 429 is retried, 5 times, 1-2-4-8-16 s with +-20 % jitter."""
        delay = 1.0
        for attempt in range(6):
            self._count()
            response = httpx.request(
                method, self.base_url + path, headers=self.headers, timeout=60, **kwargs
            )
            if response.status_code != 429 or attempt == 5:
                return response
            jitter = delay * 0.2 * (2 * random.random() - 1)
            time.sleep(min(delay + jitter, 60.0))
            delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    def run_folder(self, folder: Path, identity_code: str, out: Path) -> bool:
        created = self.call("POST", "/project", json={"project_name": folder.name})
        if created.status_code not in (200, 201, 409):  # 409: the body names the project
            return False
        project_id = created.json()["project_id"]
        file_ids = []
        for path in sorted(folder.glob("*.jpg")):  # one at a time
            upload = self.call("POST", "/upload", json={"filename": path.name})
            if upload.status_code != 200:
                continue
            body = upload.json()
            self._count()
            put = httpx.put(
                body["upload_url"],
                content=path.read_bytes(),
                headers={"Content-Type": body["content_type"]},
                timeout=120,
            )
            if put.status_code in (200, 201):
                file_ids.append(body["file_id"])
        if not file_ids:
            return False
        if self.call("GET", f"/identity/{identity_code}").status_code != 200:
            return False
        job = self.call(
            "POST",
            "/model-swap",
            json={
                "project_id": project_id,
                "images": file_ids,
                "identity_code": identity_code,
                "post_process": False,
            },
        )
        if job.status_code != 202:
            return False
        job_id = job.json()["job_id"]
        time.sleep(5)
        while True:
            status = self.call("GET", f"/jobs/{job_id}/status")
            if status.status_code != 200:
                return False
            if status.json()["status"] in ("completed", "failed", "aborted"):
                break
            time.sleep(5)
        if status.json()["status"] != "completed":
            return False
        results = self.call("GET", f"/jobs/{job_id}/results")
        out.mkdir(parents=True, exist_ok=True)
        for result in results.json()["results"]:
            url = (result.get("output") or {}).get("full_size")
            if result.get("status") == "completed" and url:
                self._count()
                data = httpx.get(url, timeout=30).content
                stem, ext = result["original_filename"].rsplit(".", 1)
                (out / f"{stem}_v{result.get('version', 0)}.{ext}").write_bytes(data)
        (out / "metadata.json").write_text(json.dumps(results.json(), indent=2))
        return True

    def run_batch(
        self, folders: list[Path], identity_code: str, out: Path, parallel: int = 3
    ) -> list[Path]:
        """One batch_swap.py run; returns the folders that failed."""
        failed: list[Path] = []
        with ThreadPoolExecutor(parallel) as pool:
            futures = {
                pool.submit(self.run_folder, f, identity_code, out / f.name): f for f in folders
            }
            for future in as_completed(futures):
                ok = False
                # the reference counts a worker that raised as failed
                with contextlib.suppress(Exception):
                    ok = bool(future.result())
                if not ok:
                    failed.append(futures[future])
        return sorted(failed)


# --- the two runs --------------------------------------------------------------------------------


def upload_identity(server: ServerProcess, token: str, identity: Path) -> str:
    with open(identity, "rb") as handle:
        response = httpx.post(
            server.base_url + "/identity/upload",
            headers={"Authorization": f"Bearer {token}"},
            files={"image": (identity.name, handle, "image/jpeg")},
            data={"name": "bench"},
            timeout=60,
        )
    body = response.json()
    return str(body.get("identity_code") or body.get("existing_identity_code"))


def run_vestis(
    server: ServerProcess,
    token: str,
    code: str,
    pdp: Path,
    out: Path,
    parallel: int,
    per_minute: int,
) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    env = {k: v for k, v in env.items() if not k.startswith("VESTIS_")}
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vestis",
            "batch-swap",
            "--input-dir",
            str(pdp),
            "--base-url",
            server.base_url,
            "--token",
            token,
            "--identity-code",
            code,
            "--output-dir",
            str(out),
            "--parallel",
            str(parallel),
            "--jobs-per-minute",
            str(per_minute),
            "--quiet",
        ],
        env=env,
        check=False,
        timeout=3600,
    )
    elapsed = time.monotonic() - started
    summary = json.loads(sorted(out.glob("batch_summary_*.json"))[-1].read_text())
    return elapsed, int(summary["successful"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folders", type=int, default=20)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--rate-limit", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=5, help="vestis --parallel")
    args = parser.parse_args()
    bound = (math.ceil(args.folders / args.rate_limit) - 1) * 60.0
    with tempfile.TemporaryDirectory(prefix="vestis-bench-") as tmp_name:
        tmp = Path(tmp_name)
        pdp, identity = build_catalogue(tmp / "catalogue", args.folders, args.images)
        with ServerProcess(tmp / "server", rate_limit=args.rate_limit) as server:
            token_a = server.add_user("bench-vestis", "bench-password-1")
            token_b = server.add_user("bench-reference", "bench-password-2")
            code_a = upload_identity(server, token_a, identity)
            code_b = upload_identity(server, token_b, identity)
            print(
                f"{args.folders} folders x {args.images} images, server limit "
                f"{args.rate_limit} jobs/min; bound {bound:.0f} s",
                flush=True,
            )
            v_time, v_ok = run_vestis(
                server, token_a, code_a, pdp, tmp / "out-vestis", args.parallel, args.rate_limit
            )
            print(f"vestis:    {v_time:7.1f} s, {v_ok}/{args.folders} folders", flush=True)
            reference = ReferenceRunner(server.base_url, token_b)
            started = time.monotonic()
            folders = sorted(p for p in pdp.iterdir() if p.is_dir())
            failed = reference.run_batch(folders, code_b, tmp / "out-reference")
            r_time = time.monotonic() - started
            r_ok = args.folders - len(failed)
            print(
                f"reference: {r_time:7.1f} s, {r_ok}/{args.folders} folders "
                f"({reference.requests} requests)",
                flush=True,
            )
            # What a user then does: run again on the failed folders (--input-folders ...),
            # until every folder is done. Each run starts those folders from scratch.
            runs = 1
            while failed and runs < 6:
                failed = reference.run_batch(failed, code_b, tmp / "out-reference")
                runs += 1
            r_all_time = time.monotonic() - started
            print(
                f"reference, re-run on failures until done: {r_all_time:7.1f} s, "
                f"{runs} runs, {args.folders - len(failed)}/{args.folders} folders "
                f"({reference.requests} requests)",
                flush=True,
            )
    figures = {
        "folders": args.folders,
        "images_per_folder": args.images,
        "rate_limit_per_minute": args.rate_limit,
        "bound_seconds": bound,
        "vestis": {"seconds": round(v_time, 1), "completed": v_ok, "parallel": args.parallel},
        "reference": {
            "seconds": round(r_time, 1),
            "completed": r_ok,
            "parallel": 3,
            "until_all_done": {
                "seconds": round(r_all_time, 1),
                "runs": runs,
                "completed": args.folders - len(failed),
                "requests": reference.requests,
            },
        },
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_batch.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
