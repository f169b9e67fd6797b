"""The FASHN provider of the model-swap runs: each image of a folder goes through FASHN's
`/v1/run` (`model-swap`), with the same output folder, file names, metadata.json, journal and
resume as the On-Model v2 provider (`runs.folder.FolderRun`, which this class extends).

Differences that follow from the API: there is no project, upload or identity step (images go
inline as data URIs; the face reference is a data URI or a URL), and one prediction per input
image replaces the single job. Each prediction id is journaled as soon as `/v1/run` answers, so a
re-run waits for it instead of paying for it twice; a prediction that failed is run again.
Outputs are named as v2 results are: `<input stem>_v<n>.<ext>` for output n of an input.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vestis.client import errors
from vestis.client.fashn import FashnClient, Prediction, UnsureRunError, fashn_error_name
from vestis.contract.fashn import MODEL_SWAP, ModelSwapInputs, RunResponse
from vestis.runs.context import RunContext
from vestis.runs.folder import (
    SUBMIT_ATTEMPTS,
    FolderFailed,
    FolderRun,
    _now,
    _transient,
    _write_atomic,
)
from vestis.runs.inputs import sha256_bytes, sha256_file
from vestis.runs.journal import Journal
from vestis.runs.naming import assign_stems, extension_for, result_key, sniff_format
from vestis.runs.spec import fingerprint

PROVIDER = "fashn"
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}


@dataclass(frozen=True)
class FashnSwapOptions:
    """The model-swap inputs a run sends with every image (FASHN field names)."""

    face_reference: str | None = None  # a local path or an http(s) URL
    face_reference_mode: str = "match_reference"
    num_images: int = 1
    prompt: str = ""
    seed: int = 42
    poll_interval: float = 2.0
    timeout: float = 600.0


def image_data_uri(data: bytes, name: str = "") -> str:
    """`data:image/<type>;base64,...` for image bytes (type sniffed, else from the name)."""
    fmt = sniff_format(data) or ("png" if name.lower().endswith(".png") else "jpeg")
    return f"data:{_MIME.get(fmt, 'image/jpeg')};base64,{base64.b64encode(data).decode('ascii')}"


class FaceReference:
    """The face reference of a run, read once and shared by every folder of a batch."""

    def __init__(self, source: str | None) -> None:
        self.source = source
        self._value: str | None = None
        self.sha256: str | None = None

    @property
    def value(self) -> str | None:
        """What goes in `inputs.face_reference`: the URL as given, or the file as a data URI."""
        if self.source is None or self._value is not None:
            return self._value
        if self.source.startswith(("http://", "https://", "data:")):
            self._value, self.sha256 = self.source, sha256_bytes(self.source.encode())
            return self._value
        path = Path(self.source).expanduser()
        if not path.is_file():
            raise FolderFailed(f"Face reference image not found: {path}")
        data = path.read_bytes()
        self._value, self.sha256 = image_data_uri(data, path.name), sha256_bytes(data)
        return self._value


def output_format_for(path: Path) -> str:
    """PNG inputs give PNG outputs, everything else JPEG: the same files as the v2 provider."""
    return "png" if path.suffix.lower() == ".png" else "jpeg"


class FashnFolderRun(FolderRun):
    """One folder through FASHN's `/v1/run`, one prediction per image."""

    def __init__(
        self,
        ctx: RunContext,
        folder: Path,
        output: Path,
        label: str | None = None,
        *,
        options: FashnSwapOptions,
        face_reference: FaceReference,
    ) -> None:
        super().__init__(ctx, folder, output, label)
        self.options = options
        self.face_reference = face_reference

    @property
    def client(self) -> FashnClient:
        client: FashnClient = self.ctx.client
        return client

    def _run(self, files: list[Path], journal: Journal) -> str | None:
        reference = self.face_reference.value
        checksums = {p.name: sha256_file(p) for p in files}
        config = fingerprint(
            {
                "provider": PROVIDER,
                "options": asdict(self.options) | {"face_reference": self.face_reference.sha256},
                "inputs": checksums,
            }
        )
        if self._already_complete(journal, config):
            self.emit("already_complete", output=str(self.output), source=self.folder.name)
            return None
        self._found(files)
        journal.set("config", config)
        journal.set("input_folder", str(self.folder.resolve()))
        journal.set("kind", self.kind)
        journal.set("provider", PROVIDER)
        journal.set("completed", False)
        timings: dict[str, Any] = {"started_at": _now()}
        t0 = time.monotonic()
        inputs = {p.name: self._inputs(p, reference) for p in files}
        ids = {
            p.name: self._submit_one(p, inputs[p.name], checksums[p.name], journal) for p in files
        }
        finals = {name: self._wait_one(name, ids[name], journal) for name in ids}
        timings["job_seconds"] = round(time.monotonic() - t0, 1)
        t1 = time.monotonic()
        self._download_all(files, finals, journal)
        timings["download_seconds"] = round(time.monotonic() - t1, 1)
        failed = {name: final for name, final in finals.items() if final.status != "completed"}
        if failed:
            # one reason said once, with the photos it concerns (a face reference without a
            # face fails every prediction in the same words)
            by_reason: dict[str, list[str]] = {}
            for name, final in failed.items():
                by_reason.setdefault(_reason(final), []).append(name)
            details = "; ".join(f"{why} [{', '.join(names)}]" for why, names in by_reason.items())
            raise FolderFailed(
                f"{len(failed)} of {len(files)} predictions did not complete: {details}. "
                "Run the same command again to retry them."
            )
        timings["total_seconds"] = round(time.monotonic() - t0, 1)
        timings["finished_at"] = _now()
        journal.set("timings", timings)
        journal.set("completed", True)
        self.emit("results_saved", output=str(self.output))
        return None

    # -- steps -----------------------------------------------------------------------------------

    def _inputs(self, path: Path, reference: str | None) -> ModelSwapInputs:
        return ModelSwapInputs(
            model_image=image_data_uri(path.read_bytes(), path.name),
            prompt=self.options.prompt,
            face_reference=reference,
            face_reference_mode=self.options.face_reference_mode,
            seed=self.options.seed,
            num_images=self.options.num_images,
            output_format=output_format_for(path),
        )

    def _submit_one(
        self, path: Path, inputs: ModelSwapInputs, checksum: str, journal: Journal
    ) -> str:
        """The prediction id for this input: the journal's (same request, not failed) or new."""
        request = fingerprint(
            {"input": checksum, "inputs": inputs.model_dump(exclude={"model_image"})}
        )
        saved = journal.section("predictions").get(path.name)
        if (
            isinstance(saved, dict)
            and saved.get("fingerprint") == request
            and saved.get("prediction_id")
            and saved.get("status") not in ("failed", "canceled", "time_out", "expired")
        ):
            self.emit("job_submitted", job_id=saved["prediction_id"], resumed=True)
            return str(saved["prediction_id"])
        started = self._start(path, inputs)
        journal.set_in(
            "predictions",
            path.name,
            {"fingerprint": request, "prediction_id": started.id, "status": "starting",
             "submitted_at": _now()},
        )  # fmt: skip
        self.emit("job_submitted", job_id=started.id, resumed=False, total_outputs=None)
        return started.id

    def _start(self, path: Path, inputs: ModelSwapInputs) -> RunResponse:
        """`POST /v1/run`, paced; a rate-limited run waits for the server's Retry-After and
        tries again (after the client's own retries), as v2 job submissions do."""
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            self.ctx.pacer.acquire(on_wait=lambda s: self.emit("pacing", seconds=s))
            try:
                return self.client.run(MODEL_SWAP, inputs)
            except UnsureRunError as exc:
                raise FolderFailed(
                    f"Failed to start the prediction for {path.name}: {exc.reason}"
                ) from exc
            except errors.VestisError as exc:
                if (
                    isinstance(exc, errors.RateLimitError)
                    and fashn_error_name(exc) != "OutOfCredits"
                ):
                    self.ctx.pacer.penalize(exc.retry_after)
                    if attempt < SUBMIT_ATTEMPTS:
                        continue
                raise FolderFailed(
                    f"Failed to start the prediction for {path.name}: {exc.reason}",
                    transient=_transient(exc) and fashn_error_name(exc) != "OutOfCredits",
                ) from exc
        raise AssertionError("unreachable")

    def _wait_one(self, name: str, prediction_id: str, journal: Journal) -> Prediction:
        self.emit("job_waiting", job_id=prediction_id)
        try:
            final = self.client.wait(
                prediction_id,
                poll_interval=self.options.poll_interval,
                timeout=self.options.timeout,
            )
        except errors.NotFoundError:
            # The server no longer knows it (expired or another server): run it again next time.
            self._record(journal, name, status="expired")
            raise FolderFailed(
                f"Prediction {prediction_id} ({name}) is unknown to the server; run the same "
                "command again to start a new one."
            ) from None
        except errors.VestisError as exc:
            raise FolderFailed(
                f"Error checking status: {exc.reason}", transient=_transient(exc)
            ) from exc
        if final.status == "time_out":
            raise FolderFailed(
                f"Timeout: prediction {prediction_id} ({name}) took longer than "
                f"{self.options.timeout:g} seconds; run the same command again to keep waiting."
            )
        error = f"{final.error.name}: {final.error.message}" if final.error else None
        self._record(journal, name, status=final.status, error=error, finished_at=_now())
        if error:
            journal.append("failures", {"key": name, "message": error})
        self.emit("job_finished", job_id=prediction_id, status=final.status, message=error)
        return final

    @staticmethod
    def _record(journal: Journal, name: str, **fields: Any) -> None:
        entry = dict(journal.section("predictions").get(name) or {})
        entry.update(fields)
        journal.set_in("predictions", name, entry)

    def _download_all(
        self, files: list[Path], finals: dict[str, Prediction], journal: Journal
    ) -> None:
        """Every output of every completed prediction, named like v2 results; metadata.json."""
        results = _results(files, finals)
        ready = [r for r in results if r["status"] == "completed"]
        stems = assign_stems(list[Mapping[str, Any]](ready))
        self.output.mkdir(parents=True, exist_ok=True)
        downloads = journal.section("downloads")
        pending: dict[str, tuple[dict[str, Any], Future[bytes]]] = {}
        for result in ready:
            key = result_key(result)
            saved = downloads.get(key)
            if (
                isinstance(saved, dict)
                and self._intact(saved)
                and saved.get("prediction_id") == result["prediction_id"]
            ):
                result["download_filename"] = saved["file"]
                self.emit("download_skipped", file=saved["file"])
                continue
            fetch: Callable[[str], bytes] = self.client.download
            pending[key] = (result, self.ctx.transfers.submit(fetch, result.pop("_output")))
        problems: list[str] = []
        for key, (result, future) in pending.items():
            try:
                data = future.result()
            except errors.VestisError as exc:
                self.emit("download_failed", image_index=result["image_index"], message=exc.reason)
                problems.append(f"{result['original_filename']} #{result['version']}: {exc.reason}")
                if "expired" in str(exc):
                    self._record(journal, result["original_filename"], status="expired")
                continue
            stem, orig_ext = stems[key]
            ext = extension_for(orig_ext, sniff_format(data))
            filename = f"{stem}.{ext}" if ext else stem
            _write_atomic(self.output / filename, data)
            result["download_filename"] = filename
            journal.set_in(
                "downloads",
                key,
                {
                    "file": filename,
                    "sha256": sha256_bytes(data),
                    "image_index": result["image_index"],
                    "version": result["version"],
                    "original_filename": result["original_filename"],
                    "prediction_id": result["prediction_id"],
                    "model_used": MODEL_SWAP,
                },
            )
            self.emit("downloaded", file=filename, model_used=MODEL_SWAP)
        for result in results:
            result.pop("_output", None)
        metadata = {
            "provider": PROVIDER,
            "model_name": MODEL_SWAP,
            "results": results,
            "predictions": [finals[p.name].model_dump(mode="json") for p in files],
            "credits_used": sum(f.credits_used or 0 for f in finals.values()),
        }
        text = json.dumps(metadata, indent=2)
        (self.output / "metadata.json").write_text(text, encoding="utf-8")
        if problems:
            raise FolderFailed("Failed to download: " + "; ".join(problems), transient=True)


def _results(files: list[Path], finals: dict[str, Prediction]) -> list[dict[str, Any]]:
    """v2-like result entries (image_index, version, original_filename, status, url, ...), one
    per output of a completed prediction and one per failed prediction."""
    results: list[dict[str, Any]] = []
    for index, path in enumerate(files):
        final = finals[path.name]
        base = {
            "image_index": index,
            "group_index": 0,
            "original_filename": path.name,
            "prediction_id": final.id,
            "model_used": MODEL_SWAP,
        }
        if final.status != "completed":
            results.append(
                base | {"version": 0, "status": "failed", "error_message": _describe(final)}
            )
            continue
        for version, output in enumerate(final.output or []):
            url = output if output.startswith("http") else "<base64>"
            results.append(
                base | {"version": version, "status": "completed", "url": url, "_output": output}
            )
    return results


def _reason(final: Prediction) -> str:
    """What went wrong, in the service's words (its error's class name is for programs)."""
    if final.error is not None and final.error.message:
        return final.error.message.rstrip(".")
    return final.status


def _describe(final: Prediction) -> str:
    if final.error is not None:
        return f"{final.status}, {final.error.name}: {final.error.message}"
    return final.status
