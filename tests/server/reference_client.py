"""A faithful re-implementation of the HTTP sequence of the public reference scripts
(`model_swap.py`, `flat_to_model.py`; spec §2 to §4), used to prove the server runs them
unchanged. It is not their code; it sends and accepts exactly what spec §2-§4 say they do."""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

TERMINAL = ("completed", "failed", "aborted")


class ScriptFailed(Exception):
    """The script would print its message and exit 1."""


@dataclass
class Run:
    """What one run did: the console lines that matter, polled statuses, files written."""

    project_id: str | None = None
    identity_code: str | None = None
    job_id: str | None = None
    statuses: list[tuple[str, float]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


class ReferenceScript:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        login: tuple[str, str] | None = None,
        on_status: Callable[[str], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.login = login
        self.http = httpx.Client(timeout=30)
        #: Told every status the script polls (a test opens its engine gate on `processing`).
        self.on_status = on_status

    # --- auth (§1) --------------------------------------------------------------------------

    def authenticate(self) -> None:
        if self.login is None:
            return
        basic = base64.b64encode(f"{self.login[0]}:{self.login[1]}".encode()).decode()
        response = self.http.post(
            self.base_url + "/auth/login", headers={"Authorization": f"Basic {basic}"}
        )
        if response.status_code != 200:
            raise ScriptFailed(f"Authentication failed: {response.status_code}")
        self.token = response.json()["token"]

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The retry wrapper: 429 backoff (shortened for tests), 401 returned as is."""
        delay = 0.05
        for _attempt in range(6):
            response = self.http.request(
                method, self.base_url + path, headers=self._headers(), **kwargs
            )
            if response.status_code != 429:
                return response
            time.sleep(delay)
            delay *= 2
        return response

    # --- steps --------------------------------------------------------------------------------

    @staticmethod
    def scan(folder: Path, swap: bool) -> list[Path]:
        files = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png")
        )
        if swap:
            files = [p for p in files if "_INTERNAL_" not in p.name and "_NONMODEL_" not in p.name]
        return files

    def create_project(self, name: str, run: Run) -> str:
        response = self.call("POST", "/project", json={"project_name": name})
        if response.status_code in (200, 201):
            body = response.json()
            run.log.append(f"Project created: {body['project_name']}")
            return str(body["project_id"])
        if response.status_code == 409:
            run.log.append(f"Project '{name}' already exists")
            body = response.json()
            if "project_id" in body:
                run.log.append(f"Using existing project: {body['project_id']}")
                return str(body["project_id"])
            listing = self.call("GET", "/project", params={"per_page": 100})
            for project in listing.json().get("projects", []):
                if project.get("project_text") == name:
                    return str(project.get("project_key") or project.get("project_id"))
            raise ScriptFailed(f"Could not find project '{name}'")
        raise ScriptFailed(f"Failed to create project: {response.status_code}")

    def upload(self, path: Path, run: Run) -> str | None:
        response = self.call("POST", "/upload", json={"filename": path.name})
        if response.status_code != 200:  # the scripts accept 200 only
            run.log.append(f"Failed to upload: {path.name}")
            return None
        body = response.json()
        upload_url = body["upload_url"]
        if self.base_url.startswith("https://") and upload_url.startswith("http://"):
            upload_url = upload_url.replace("http://", "https://", 1)
        parsed = urlparse(upload_url)
        conn_cls = (
            http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_cls(parsed.netloc, timeout=120)
        conn.request(
            "PUT",
            parsed.path + "?" + parsed.query,
            body=path.read_bytes(),
            headers={"Content-Type": body["content_type"]},  # the only header
        )
        status = conn.getresponse().status
        conn.close()
        if status not in (200, 201):
            run.log.append(f"Failed to upload: {path.name}")
            return None
        run.log.append(f"Uploaded: {path.name} -> {body['file_id']}")
        return str(body["file_id"])

    def identity(self, code: str | None, image: Path | None, run: Run) -> str:
        if code:
            response = self.call("GET", f"/identity/{code}")
            if response.status_code == 200:
                run.log.append(f"Using existing identity: {response.json()['identity_code']}")
                return str(response.json()["identity_code"])
        if image is not None and image.exists():
            ctype = "image/png" if image.suffix.lower() == ".png" else "image/jpeg"
            response = self.http.post(
                self.base_url + "/identity/upload",
                headers=self._headers(),
                files={"image": (image.name, image.read_bytes(), ctype)},
                data={"name": image.stem},
            )
            if response.status_code in (200, 201):
                run.log.append(f"Identity uploaded: {response.json()['identity_code']}")
                return str(response.json()["identity_code"])
            if response.status_code == 409:
                body = response.json()
                found = body.get("existing_identity_code") or body.get("identity_code")
                run.log.append(f"Identity already exists: {found}")
                return str(found)
            raise ScriptFailed(f"Failed to upload identity: {response.status_code}")
        raise ScriptFailed("No identity code available")

    def create_job(self, path: str, payload: dict[str, Any]) -> str:
        response = self.call("POST", path, json=payload)
        if response.status_code != 202:  # exactly 202, 200 is a failure
            raise ScriptFailed(f"Failed to create job: {response.status_code} {response.text}")
        return str(response.json()["job_id"])

    def wait(self, job_id: str, run: Run, poll: float = 0.1, timeout: float = 120) -> str:
        started = time.monotonic()
        not_found = 0
        while time.monotonic() - started < timeout:
            response = self.call("GET", f"/jobs/{job_id}/status")
            if response.status_code == 404:
                not_found += 1
                if not_found > 10:
                    raise ScriptFailed(f"Job {job_id} not found after 10 retries")
                time.sleep(poll)
                continue
            if response.status_code != 200:
                raise ScriptFailed(f"Failed to get status: {response.status_code}")
            not_found = 0
            body = response.json()
            status = body["status"]
            progress = body.get("progress", 0)
            run.log.append(f"Progress: {progress:.1f}% - Status: {status}")  # must be numeric
            run.statuses.append((status, float(progress)))
            if self.on_status is not None:
                self.on_status(status)
            if status in TERMINAL:
                return str(status)
            time.sleep(poll)
        raise ScriptFailed("Timeout")

    def download(self, job_id: str, output: Path, run: Run) -> dict[str, Any]:
        response = self.call("GET", f"/jobs/{job_id}/results")
        if response.status_code != 200:
            raise ScriptFailed(f"Failed to get results: {response.status_code}")
        body = response.json()
        output.mkdir(parents=True, exist_ok=True)
        for result in body["results"]:
            fallback = f"image_{result['image_index']}.jpg"  # built eagerly: image_index required
            if result.get("status") != "completed":
                continue
            out = result.get("output")
            if not isinstance(out, dict) or not out.get("full_size"):
                continue
            name = Path(result.get("original_filename", fallback)).name
            version = result.get("version", 0)
            if "." in name:
                stem, ext = name.rsplit(".", 1)
                filename = f"{stem}_v{version}.{ext}"
            else:
                filename = f"{name}_v{version}"
            image = httpx.get(out["full_size"], timeout=30)  # plain GET, no auth
            image.raise_for_status()
            (output / filename).write_bytes(image.content)
            run.files.append(filename)
            model = result.get("model_used")
            run.log.append(f"Downloaded: {filename}" + (f" (model: {model})" if model else ""))
        (output / "metadata.json").write_text(json.dumps(body, indent=2))
        return body

    # --- whole runs ----------------------------------------------------------------------------

    def model_swap(
        self,
        folder: Path,
        output: Path,
        identity_code: str | None = None,
        identity_image: Path | None = None,
    ) -> Run:
        run = Run()
        self.authenticate()
        files = self.scan(folder, swap=True)
        if not files:
            raise ScriptFailed(f"No processable images found in {folder}")
        run.project_id = self.create_project(folder.name, run)
        file_ids = [f for f in (self.upload(p, run) for p in files) if f]
        if not file_ids:
            raise ScriptFailed("No images uploaded")
        run.identity_code = self.identity(identity_code, identity_image, run)
        payload = {
            "project_id": run.project_id,
            "images": file_ids,
            "identity_code": run.identity_code,
            "post_process": False,
            "swap_options": {"model": "auto"},
        }
        run.job_id = self.create_job("/model-swap", payload)
        if self.wait(run.job_id, run) != "completed":
            raise ScriptFailed("Job did not complete successfully")
        self.download(run.job_id, output, run)
        return run

    def flat_to_model(
        self,
        folder: Path,
        output: Path,
        instructions: list[dict[str, Any]],
        identity_code: str | None = None,
        identity_image: Path | None = None,
    ) -> Run:
        run = Run()
        self.authenticate()
        files = self.scan(folder, swap=False)
        run.project_id = self.create_project(folder.name, run)
        file_ids = [f for f in (self.upload(p, run) for p in files) if f]
        run.identity_code = self.identity(identity_code, identity_image, run)
        payload = {
            "project_id": run.project_id,
            "images": file_ids,
            "identity_code": run.identity_code,
            "instructions": instructions,
            "options": {"model": "auto"},
        }
        run.job_id = self.create_job("/flat-2-model", payload)
        if self.wait(run.job_id, run) != "completed":
            raise ScriptFailed("Job did not complete successfully")
        self.download(run.job_id, output, run)
        return run


@dataclass
class BatchRun:
    """What one `batch_swap.py` run did (spec §5): its summary and each folder's run."""

    summary: dict[str, Any]
    runs: dict[str, Run]
    #: (server, method, path, status code) of every answer to the scripts' API calls.
    answers: list[tuple[str, str, str, int]]

    @property
    def exit_code(self) -> int:
        return 1 if self.summary["failed"] else 0


def batch_swap(
    folders: list[Path],
    output_dir: Path,
    base_urls: list[str],
    token: str,
    *,
    identity_image: Path,
    parallel: int = 3,
) -> BatchRun:
    """`batch_swap.py --input-folders ... --identity-image ... --token ... --parallel N` (spec
    §5): the parallel count clamped to 1-5, each folder an independent single-script workflow
    (`model_swap`) on a thread pool, writing to `<output_dir>/<folder name>/`; results in
    completion order. Folder i talks to `base_urls[i % len(base_urls)]`, as a load balancer in
    front of several API processes would send it."""
    workers = max(1, min(parallel, 5))
    answers: list[tuple[str, str, str, int]] = []
    runs: dict[str, Run] = {}
    results: list[dict[str, Any]] = []
    started = time.monotonic()

    def record(response: httpx.Response) -> None:
        server = f"{response.url.scheme}://{response.url.netloc.decode()}"
        answers.append((server, response.request.method, response.url.path, response.status_code))

    def one(index: int, folder: Path) -> tuple[bool, float]:
        begun = time.monotonic()
        script = ReferenceScript(base_urls[index % len(base_urls)], token=token)
        script.http.event_hooks["response"] = [record]
        try:
            runs[folder.name] = script.model_swap(
                folder, output_dir / folder.name, identity_image=identity_image
            )
            return True, time.monotonic() - begun
        except ScriptFailed:
            return False, time.monotonic() - begun
        finally:
            script.http.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(one, n, folder): folder for n, folder in enumerate(folders)}
        for future in as_completed(futures):
            name = futures[future].name
            try:
                success, took = future.result()
            except Exception as exc:  # the worker raised: `[i/N] <folder>: ERROR - <exc>`
                results.append({"folder": name, "success": False, "error": str(exc)})
                continue
            results.append({"folder": name, "success": success, "processing_time": round(took, 1)})
    successful = sum(1 for r in results if r["success"])
    summary = {
        "configuration": {"parallel": workers, "post_process": False, "identity_code": None},
        "total_folders": len(folders),
        "successful": successful,
        "failed": len(folders) - successful,
        "total_time_seconds": round(time.monotonic() - started, 1),
        "results": results,
    }
    return BatchRun(summary, runs, answers)
