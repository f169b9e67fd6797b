"""Server throughput and latency under load, this checkout against an older one, in one run
(real server processes on loopback, FakeEngine, SQLite, or PostgreSQL with `--postgres`, one
uvicorn process each):

* `GET /jobs/{id}/status` requests per second and latency (p50, p99) with 1 client and with
  `--clients` (50) keep-alive clients;
* the same single poller while `--flood` (40) threads send wrong passwords to `/auth/login`:
  its latency against its normal latency (the login flood must not starve polling);
* `--uploaders` (50) clients doing `POST /upload` + the signed `PUT` of a small JPEG for
  `--upload-seconds` (20): uploads done, errors, MB/s;
* upload throughput of large files against the raw disk (`--uploads` x `--megabytes`).

    python benchmarks/bench_server.py                       # before = commit 19c947f
    python benchmarks/bench_server.py --before /path/to/old/checkout [--before-python PY]
    python -m benchmarks bench_server --postgres --status-only   # status req/s on PostgreSQL

`--postgres`: every server gets a fresh database on VESTIS_TEST_POSTGRES_URL's server, else on a
throwaway cluster started for the run (.ci/postgres.sh). `--status-only`: only the status
figures (1 and `--clients` clients), no login flood or uploads. `--rounds N`: both servers up
at once, measured in turns N times, each figure the median of its N (for a busy machine).

"Before" runs the older checkout's own code (a `git worktree` of `--before-commit` made under
/tmp unless `--before` names a checkout; its `.venv` is used when it has one). Loopback only,
every loop bounded in time. Expect noise on a shared machine: compare the two columns of one
run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server_process import ServerProcess  # noqa: E402

from benchmarks.scale_out import with_postgres  # noqa: E402

#: The code before issue 17's status fast path on PostgreSQL and per-output work were cut.
BEFORE_COMMIT = "83d5785"


class CheckoutServer(ServerProcess):
    """A ServerProcess that runs the code of another checkout with its own Python."""

    def __init__(self, tmp: Path, root: Path, python: str, **kwargs: object) -> None:
        super().__init__(tmp, **kwargs)  # type: ignore[arg-type]
        self.python = python
        self._env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "src")])
        # not this checkout's `tests` from the working directory: the older one's FakeEngine
        self._env["PYTHONSAFEPATH"] = "1"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.python, "-m", "vestis", *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"vestis {' '.join(args)} failed: {result.stderr}{result.stdout}")
        return result

    def command(self) -> list[str]:
        return [self.python, *super().command()[1:]]


# --- load ------------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, ok: bool, sent: int = 0) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.errors += 0 if ok else 1
            self.bytes_sent += sent if ok else 0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run_threads(count: int, seconds: float, work: Callable[[float], None]) -> float:
    """`count` threads each running `work(deadline)`; the wall time they took."""
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(deadline,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def poll_status(server: ServerProcess, job_id: str, tally: Tally) -> Callable[[float], None]:
    path = f"/jobs/{job_id}/status"
    headers = {"Authorization": f"Bearer {server.token}"}

    def work(deadline: float) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                ok = False
            tally.add(time.perf_counter() - began, ok)
        connection.close()

    return work


def login_flood(server: ServerProcess, stop: threading.Event) -> Callable[[float], None]:
    def work(deadline: float) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            number = 0
            while time.perf_counter() < deadline and not stop.is_set():
                number += 1
                with contextlib.suppress(httpx.HTTPError):
                    client.post("/auth/login", auth=(server.username, f"wrong-{number}"))

    return work


def uploader(server: ServerProcess, data: bytes, tally: Tally) -> Callable[[float], None]:
    def work(deadline: float) -> None:
        with server.client() as api, httpx.Client(timeout=30) as raw:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    reserved = api.post("/upload", json={"filename": "load.jpg"})
                    ok = reserved.status_code == 200
                    if ok:
                        put = raw.put(reserved.json()["upload_url"], content=data)
                        ok = put.status_code == 200
                except httpx.HTTPError:
                    ok = False
                tally.add(time.perf_counter() - began, ok, len(data))

    return work


# --- fixtures ----------------------------------------------------------------------------------


def face_jpeg(side: int = 128) -> bytes:
    image = Image.new("RGB", (side * 3 // 4, side), (200, 180, 160))
    image.paste((220, 170, 140), (side // 4, side // 8, side // 2, side * 3 // 8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def noise_png(megabytes: float, seed: int) -> bytes:
    """An RGB PNG of random pixels (PNG cannot compress noise): about `megabytes` MB."""
    side = int((megabytes * 1_000_000 / 3) ** 0.5)
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
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
    deadline = time.monotonic() + 60
    while client.get(f"/jobs/{job_id}/status").json()["status"] != "completed":
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark's job did not finish")
        time.sleep(0.05)
    return job_id


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


# --- one side ----------------------------------------------------------------------------------


def measure(server: ServerProcess, args: argparse.Namespace, payloads: list[bytes]) -> dict:
    figures: dict[str, float] = {}
    job_id = finished_job(server.client())
    run_threads(1, 1.0, poll_status(server, job_id, Tally()))  # warm-up
    # Large uploads first: measured after the upload flood below, they timed the server still
    # syncing thousands of small files (the faster side was penalised for its own throughput).
    if not args.status_only:
        upload = upload_mbps(server, payloads)
        figures["big upload MB/s"] = upload
        figures["upload / disk"] = upload / disk_mbps(server.data_dir, payloads)
    for clients in (1, args.clients):
        tally = Tally()
        wall = run_threads(clients, args.seconds, poll_status(server, job_id, tally))
        figures[f"status rps {clients}"] = len(tally.latencies) / wall
        figures[f"status p50 {clients}"] = tally.percentile(0.5)
        figures[f"status p99 {clients}"] = tally.percentile(0.99)
        figures[f"status errors {clients}"] = tally.errors
    if args.status_only:
        return figures
    normal = figures["status p50 1"]
    flooded = Tally()
    stop = threading.Event()
    flood = threading.Thread(
        target=run_threads, args=(args.flood, args.seconds + 1, login_flood(server, stop))
    )
    flood.start()
    time.sleep(0.5)  # the flood is under way
    run_threads(1, args.seconds, poll_status(server, job_id, flooded))
    stop.set()
    flood.join()
    figures["flood p50"] = flooded.percentile(0.5)
    figures["flood p99"] = flooded.percentile(0.99)
    figures["flood slowdown"] = flooded.percentile(0.5) / normal if normal else 0.0
    figures["flood polls"] = len(flooded.latencies)
    figures["flood errors"] = flooded.errors
    uploads = Tally()
    wall = run_threads(args.uploaders, args.upload_seconds, uploader(server, face_jpeg(), uploads))
    figures["uploads done"] = len(uploads.latencies) - uploads.errors
    figures["uploads errors"] = uploads.errors
    figures["uploads p99"] = uploads.percentile(0.99)
    figures["uploads per s"] = figures["uploads done"] / wall
    return figures


def before_checkout(args: argparse.Namespace, tmp: Path) -> tuple[Path, str]:
    if args.before:
        root = Path(args.before).resolve()
    else:
        root = tmp / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(root), args.before_commit],
            check=True,
            capture_output=True,
        )
    own = root / ".venv" / "bin" / "python"
    return root, args.before_python or (str(own) if own.exists() else sys.executable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per status measurement")
    parser.add_argument("--clients", type=int, default=50, help="concurrent status pollers")
    parser.add_argument("--flood", type=int, default=40, help="login flood threads")
    parser.add_argument("--uploaders", type=int, default=50, help="concurrent small uploads")
    parser.add_argument("--upload-seconds", type=float, default=20.0)
    parser.add_argument("--uploads", type=int, default=5, help="number of large uploads")
    parser.add_argument("--megabytes", type=float, default=5.0, help="size of each")
    parser.add_argument("--before", help="checkout of the older code (default: a worktree)")
    parser.add_argument("--before-commit", default=BEFORE_COMMIT)
    parser.add_argument("--before-python", help="Python for the older code")
    parser.add_argument("--only-after", action="store_true", help="skip the older code")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, not SQLite")
    parser.add_argument("--status-only", action="store_true", help="only the status figures")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each side, "
                        "in turns; each figure is their median")  # fmt: skip
    args = parser.parse_args()

    payloads = [] if args.status_only else [
        noise_png(args.megabytes, seed) for seed in range(args.uploads)
    ]  # fmt: skip
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        if args.postgres:
            stack.enter_context(with_postgres())
        tmp = Path(folder)
        sides: list[tuple[str, Callable[[], ServerProcess]]] = []
        if not args.only_after:
            root, python = before_checkout(args, tmp)
            sides.append(("before", lambda: CheckoutServer(tmp / "b", root, python)))
        sides.append(("after", lambda: ServerProcess(tmp / "a")))
        try:
            # both servers up at once, measured in turns: a busy moment of a shared machine
            # falls on both sides alike over the rounds, and the median of each figure is kept
            servers = {name: stack.enter_context(make()) for name, make in sides}
            rounds: dict[str, list[dict]] = {name: [] for name in servers}
            for _ in range(args.rounds):
                for name, server in servers.items():
                    rounds[name].append(measure(server, args, payloads))
            results = {name: median_figures(runs) for name, runs in rounds.items()}
            stack.close()
        finally:
            if not args.only_after and not args.before:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "before")],
                    capture_output=True,
                )
    report(results, args)


def median_figures(runs: list[dict]) -> dict:
    return {key: float(np.median([run[key] for run in runs])) for key in runs[0]}


def report(results: dict[str, dict], args: argparse.Namespace) -> None:
    names = list(results)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"machine: {os.cpu_count()} CPU(s); each server: 1 uvicorn process, {database}, "
          f"FakeEngine; median of {args.rounds} round(s)")  # fmt: skip
    print(f"{'':46}" + "".join(f"{name:>14}" for name in names))
    rows = [
        ("GET /jobs/{id}/status req/s, 1 client", "status rps 1", "{:14.0f}"),
        ("  p50 / p99 latency (ms), 1 client", ("status p50 1", "status p99 1"), "ms"),
        (f"GET /jobs/{{id}}/status req/s, {args.clients} clients", f"status rps {args.clients}",
         "{:14.0f}"),
        (f"  p50 / p99 latency (ms), {args.clients} clients",
         (f"status p50 {args.clients}", f"status p99 {args.clients}"), "ms"),
        (f"  errors, {args.clients} clients", f"status errors {args.clients}", "{:14.0f}"),
        (f"1 poller during a {args.flood}-thread login flood", None, ""),
        ("  p50 / p99 latency (ms)", ("flood p50", "flood p99"), "ms"),
        ("  p50 / normal p50", "flood slowdown", "{:14.2f}"),
        ("  polls answered / errors", ("flood polls", "flood errors"), "n"),
        (f"{args.uploaders} concurrent uploaders, {args.upload_seconds:g} s", None, ""),
        ("  uploads done / errors", ("uploads done", "uploads errors"), "n"),
        ("  uploads per s", "uploads per s", "{:14.1f}"),
        ("  p99 upload latency (s)", "uploads p99", "{:14.2f}"),
        (f"large uploads, {args.uploads} x {args.megabytes:g} MB: MB/s", "big upload MB/s",
         "{:14.1f}"),
        ("  upload / raw disk", "upload / disk", "{:14.2f}"),
    ]  # fmt: skip
    if args.status_only:
        rows = rows[:5]
    for label, key, fmt in rows:
        cells = ""
        for name in names:
            figures = results[name]
            if key is None:
                continue
            if fmt == "ms":
                cells += f"{figures[key[0]] * 1000:7.1f}/{figures[key[1]] * 1000:<6.1f}"
            elif fmt == "n":
                cells += f"{figures[key[0]]:8.0f}/{figures[key[1]]:<5.0f}"
            else:
                cells += fmt.format(figures[key])
        print(f"{label:46}{cells}")
    if "before" in results and "after" in results:
        one = results["after"]["status rps 1"] / max(1e-9, results["before"]["status rps 1"])
        many = results["after"][f"status rps {args.clients}"] / max(
            1e-9, results["before"][f"status rps {args.clients}"]
        )
        print(f"after / before, status req/s: 1 client {one:.1f}x, {args.clients} clients "
              f"{many:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
