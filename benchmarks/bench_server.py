"""Server throughput, measured in one run against a real server process (FakeEngine):

* requests per second of `GET /jobs/{id}/status` (one keep-alive connection, then CONCURRENCY
  connections in threads);
* upload throughput in MB/s: `POST /upload` + the signed `PUT` of incompressible ~5 MB PNGs;
* raw disk write speed: the same bytes written with fsync to a file on the data dir's disk;
* the ratio upload / disk.

    python benchmarks/bench_server.py [--seconds 5] [--uploads 10] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.server_process import ServerProcess  # noqa: E402


def noise_png(megabytes: float, seed: int) -> bytes:
    """An RGB PNG of random pixels (PNG cannot compress noise): about `megabytes` MB."""
    side = int((megabytes * 1_000_000 / 3) ** 0.5)
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def face_jpeg() -> bytes:
    image = Image.new("RGB", (96, 128), (200, 180, 160))
    image.paste((220, 170, 140), (32, 16, 64, 48))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def finished_job(client: httpx.Client) -> str:
    """A completed one-output model-swap job to poll."""
    project = client.post("/project", json={"project_name": "bench"}).json()["project_id"]
    reserved = client.post("/upload", json={"filename": "bench.jpg"}).json()
    httpx.put(reserved["upload_url"], content=face_jpeg()).raise_for_status()
    identity = client.post(
        "/identity/upload", files={"image": ("id.jpg", face_jpeg(), "image/jpeg")}
    ).json()["identity_code"]
    body = {"identity_code": identity, "project_id": project, "images": [reserved["file_id"]]}
    job_id = str(client.post("/model-swap", json=body).json()["job_id"])
    while client.get(f"/jobs/{job_id}/status").json()["status"] != "completed":
        time.sleep(0.05)
    return job_id


def status_rps(server: ServerProcess, job_id: str, seconds: float, threads: int) -> float:
    """Requests per second over `threads` keep-alive connections for `seconds`."""
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def hammer(slot: int) -> None:
        with server.client() as client:
            while time.perf_counter() < deadline:
                client.get(f"/jobs/{job_id}/status").raise_for_status()
                counts[slot] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=hammer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def upload_mbps(server: ServerProcess, payloads: list[bytes]) -> float:
    with server.client() as client, httpx.Client(timeout=120) as raw:
        started = time.perf_counter()
        for number, data in enumerate(payloads):
            reserved = client.post("/upload", json={"filename": f"big-{number}.png"}).json()
            headers = {"Content-Type": reserved["content_type"]}
            raw.put(reserved["upload_url"], content=data, headers=headers).raise_for_status()
        elapsed = time.perf_counter() - started
    return sum(map(len, payloads)) / elapsed / 1e6


def disk_mbps(folder: Path, payloads: list[bytes]) -> float:
    """The same bytes, one file each, written and fsynced like the blob store does."""
    started = time.perf_counter()
    for number, data in enumerate(payloads):
        path = folder / f"disk-bench-{number}.bin"
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    elapsed = time.perf_counter() - started
    for number in range(len(payloads)):
        (folder / f"disk-bench-{number}.bin").unlink()
    return sum(map(len, payloads)) / elapsed / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per status measurement")
    parser.add_argument("--uploads", type=int, default=10, help="number of ~5 MB uploads")
    parser.add_argument("--megabytes", type=float, default=5.0, help="size of each upload")
    parser.add_argument("--concurrency", type=int, default=4, help="threads for status RPS")
    args = parser.parse_args()

    payloads = [noise_png(args.megabytes, seed) for seed in range(args.uploads)]
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp)) as server:
        job_id = finished_job(server.client())
        status_rps(server, job_id, 1.0, 1)  # warm-up
        one = status_rps(server, job_id, args.seconds, 1)
        many = status_rps(server, job_id, args.seconds, args.concurrency)
        upload = upload_mbps(server, payloads)
        disk = disk_mbps(server.data_dir, payloads)
    mean_mb = sum(map(len, payloads)) / len(payloads) / 1e6
    print(f"machine: {os.cpu_count()} CPU(s); server: 1 uvicorn process, SQLite, FakeEngine")
    print(f"GET /jobs/{{id}}/status, 1 connection:      {one:8.1f} requests/s")
    print(f"GET /jobs/{{id}}/status, {args.concurrency} connections:     {many:8.1f} requests/s")
    print(f"upload (POST /upload + PUT), {args.uploads} x {mean_mb:.1f} MB: {upload:8.1f} MB/s")
    print(f"raw disk write + fsync, same bytes:       {disk:8.1f} MB/s")
    print(f"upload / disk:                            {upload / disk:8.2f}")


if __name__ == "__main__":
    main()
