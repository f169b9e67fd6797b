"""One folder, one job: the workflow of `model_swap.py` / `flat_to_model.py`, resumable.

Steps (spec §4.6): scan -> project -> uploads -> identity -> submit -> wait -> download ->
metadata.json. Each step first asks the journal whether an earlier run already did it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vestis.client import errors
from vestis.contract.jobs import MAX_INSTRUCTIONS, MAX_JOB_IMAGES
from vestis.contract.numbering import flat_indexes, flat_label, swap_label
from vestis.runs.context import RunContext, redact
from vestis.runs.identity import IdentityError
from vestis.runs.inputs import list_images, project_name, sha256_bytes, sha256_file, unusable
from vestis.runs.journal import Journal
from vestis.runs.measures import summarise
from vestis.runs.naming import assign_stems, extension_for, image_url, result_key, sniff_format
from vestis.runs.outfit import clash_message, clashes
from vestis.runs.spec import fingerprint

#: What to do about inputs the API would refuse.
FIX_OR_SKIP = "Fix or remove them, or run with --allow-partial to go on without them."
#: How often a submission refused with 429 (after the SDK's own retries) is tried again.
SUBMIT_ATTEMPTS = 6


class FolderFailed(Exception):
    """The folder cannot complete this time; the message is for the user. A re-run resumes.

    `transient` says the cause may go away by itself (network, 429, 5xx): a batch tries the
    folder again."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


#: Whether a failure may go away by itself (a batch then tries the folder again).
_transient = errors.is_transient


@dataclass
class FolderResult:
    """How a folder ended. `ok`: its job completed and the outputs are saved; `missing` lists
    what is not among them (inputs skipped, outputs that failed), so `complete` is both."""

    ok: bool
    seconds: float
    message: str | None = None
    job_id: str | None = None
    transient: bool = False
    #: The outputs' measures in a few words (`runs.measures`), when the server measures.
    measures: str | None = None
    missing: list[str] = field(default_factory=list)
    warnings: int = 0

    @property
    def complete(self) -> bool:
        return self.ok and not self.missing


def scan_folder(
    folder: Path, kind: str, *, allow_partial: bool = False, outfit_rule: bool = False
) -> tuple[list[Path], dict[str, str]]:
    """The images of `folder` a job would take, and those the API would refuse (name -> why),
    all found locally: a missing folder, no images, too many for one job, or an image that
    cannot be used raise `FolderFailed` (the last only without `allow_partial`). With
    `outfit_rule` (the local engine), so do flat-lays whose names say they would hide each
    other (`runs.outfit`)."""
    if not folder.is_dir():
        raise FolderFailed(f"Input folder not found: {folder}\nChecked path: {folder.resolve()}")
    files = list_images(folder, swap=kind == "swap")
    if not files:
        what = "No processable images found in" if kind == "swap" else "No images found in"
        raise FolderFailed(f"{what} {folder}")
    refused = {p.name: why for p in files if (why := unusable(p))}
    if refused and not allow_partial:
        lines = "\n".join(f"  - {name}: {why}" for name, why in refused.items())
        raise FolderFailed(
            f"{len(refused)} of {len(files)} images in {folder} cannot be used:\n{lines}\n"
            + FIX_OR_SKIP
        )
    usable = [p for p in files if p.name not in refused]
    if not usable:
        raise FolderFailed(f"No usable images in {folder}")
    if len(usable) > MAX_JOB_IMAGES:
        # The API refuses more per job; say so before uploading anything.
        raise FolderFailed(
            f"{len(usable)} images in {folder}: a job takes at most {MAX_JOB_IMAGES}. "
            f"Split the folder into folders of at most {MAX_JOB_IMAGES} images."
        )
    if outfit_rule and kind == "flat" and (found := clashes(usable)):
        raise FolderFailed(clash_message(folder, found))
    return usable, refused


#: The SDK's job creation call of each run kind.
CREATE_METHODS = {
    "swap": "model_swap",
    "flat": "flat_to_model",
    "packshot": "create_packshot",
    "recolor": "garment_recolor",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FolderRun:
    """Runs one input folder into one output folder."""

    def __init__(self, ctx: RunContext, folder: Path, output: Path, label: str | None = None):
        self.ctx = ctx
        self.folder = folder
        self.output = output
        self.label = label  # folder name shown in batch output; None for single runs
        self.kind = ctx.spec.kind
        self.measures: str | None = None
        #: Inputs skipped and outputs that failed, in the user's terms (journal: `missing`).
        self.missing: list[str] = []
        self.warning_count = 0

    def emit(self, name: str, /, **fields: Any) -> None:
        self.ctx.reporter.event(name, folder=self.label, kind=self.kind, **fields)

    # -- entry point -----------------------------------------------------------------------------

    def run(self) -> FolderResult:
        started = time.monotonic()
        journal: Journal | None = None
        try:
            files = self._scan()
            journal = Journal.open(self.output)
            job_id = self._run(files, journal)
            return FolderResult(
                True,
                time.monotonic() - started,
                job_id=job_id,
                measures=self.measures,
                missing=self.missing,
                warnings=self.warning_count,
            )
        except FolderFailed as exc:
            message = redact(str(exc))
            self.emit("error", message=message)
            if journal is not None:
                journal.append("failures", {"time": _now(), "message": message})
            return FolderResult(False, time.monotonic() - started, message, transient=exc.transient)

    def _run(self, files: list[Path], journal: Journal) -> str | None:
        spec = self.ctx.spec
        checksums = {p.name: sha256_file(p) for p in files}
        reference = spec.reference_image
        config = fingerprint(
            {
                "spec": {k: v for k, v in spec.__dict__.items() if k != "instructions_file"},
                "inputs": checksums,
                **({"reference": sha256_file(reference)} if reference else {}),
            }
        )
        # what the review page shows beside the outputs: the identity photo, the instructions
        identity_image = str(spec.identity_image.resolve()) if spec.identity_image else None
        instructions = spec.instructions if self.kind in ("flat", "packshot") else []
        review = {"identity_image": identity_image, "instructions": instructions}
        if journal.get("review") != review:  # a finished run's journal stays untouched
            journal.set("review", review)
        if self._already_complete(journal, config):
            self.missing = list(journal.get("missing") or [])
            self.emit(
                "already_complete",
                output=str(self.output),
                missing=len(self.missing),
                source=self.folder.name,
            )
            job_id = journal.get("job", {}).get("job_id")
            return str(job_id) if job_id else None
        self._found(files)
        journal.set("missing", self.missing)
        journal.set("config", config)
        journal.set("input_folder", str(self.folder.resolve()))
        journal.set("kind", self.kind)
        timings: dict[str, Any] = {"started_at": _now()}
        t0 = time.monotonic()

        def lap(key: str, since: float) -> None:
            # Saved as each stage ends, so a failed run's page still shows where time went.
            timings[key] = round(time.monotonic() - since, 1)
            timings["total_seconds"] = round(time.monotonic() - t0, 1)
            journal.set("timings", timings)

        identity_code = self._identity(journal) if spec.needs_identity else ""
        project_id = self._project(journal)
        file_ids = self._uploads(files, checksums, journal)
        reference_id = self._reference(journal)
        lap("upload_seconds", t0)
        names = list(file_ids)
        notes = self._notes(files, names)
        values = list(file_ids.values())
        body = spec.job_body(project_id, identity_code, values, notes, reference_id)
        t1 = time.monotonic()
        job_id = self._submit(body, names, journal)
        status = self._wait(job_id, journal)
        lap("job_seconds", t1)
        if status != "completed":
            # the reference's line, with the server's reason: in a batch it is all the summary
            # and a terminal's live display say of the folder
            why = (journal.get("job") or {}).get("error")
            because = f": {why}" if why else ""
            raise FolderFailed(f"Job did not complete successfully (status: {status}){because}")
        t2 = time.monotonic()
        self.download(job_id, journal)
        timings["finished_at"] = _now()
        lap("download_seconds", t2)
        journal.set("missing", self.missing)
        journal.set("completed", True)
        self.emit(
            "results_saved",
            output=str(self.output),
            # in a batch the folder's closing line carries the measures: once is enough
            measures=self.measures if self.label is None else None,
            missing=len(self.missing),
            warnings=self.warning_count,
        )
        return job_id

    # -- steps -----------------------------------------------------------------------------------

    def _scan(self) -> list[Path]:
        files, refused = scan_folder(
            self.folder,
            self.kind,
            allow_partial=self.ctx.allow_partial,
            outfit_rule=self.ctx.outfit_rule,
        )
        for name, why in refused.items():
            self.emit("warning", message=f"Skipped {name}: {why}")
            self.missing.append(f"{name}: skipped, {why}")
        instructions = self.ctx.spec.instructions
        if self.kind == "flat" and len(instructions) > MAX_INSTRUCTIONS:
            raise FolderFailed(
                f"{len(instructions)} instructions: a job takes at most {MAX_INSTRUCTIONS}."
            )
        return files

    def _found(self, files: list[Path]) -> None:
        """ "Found N images to upload": said once the folder is known to have work left (a
        finished folder says only that it is complete)."""
        self.emit(
            "files_found", count=len(files), files=[p.name for p in files], source=self.folder.name
        )

    def _already_complete(self, journal: Journal, config: str) -> bool:
        """Done before with the same inputs and flags, and every output still on disk intact."""
        if not journal.get("completed") or journal.get("config") != config:
            return False
        if not (self.output / "metadata.json").is_file():
            return False
        for entry in journal.section("downloads").values():
            path = self.output / entry["file"]
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                return False
        return True

    def _project(self, journal: Journal) -> str:
        """The folder's project, asked for on every run (POST /project, as the reference scripts
        do). An id other than the journal's means this server does not hold what the journal
        recorded (its data was cleared, or it is another server): the journal's uploads and job
        are forgotten and made again, instead of failing on ids the server never saw."""
        name = project_name(self.folder)
        try:
            found, existed = self.ctx.client.projects.find_or_create(name)
            project_id = str(found)
        except errors.VestisError as exc:
            raise FolderFailed(
                f"Error creating project: {exc.reason}", transient=_transient(exc)
            ) from exc
        saved = journal.get("project")
        known = isinstance(saved, dict) and saved.get("name") == name and saved.get("id")
        if (
            known
            and str(saved["id"]) != project_id
            and (journal.get("uploads") or journal.get("job"))
        ):
            self.emit(
                "warning",
                message="The server does not hold this folder's earlier uploads and job (its "
                "data was cleared, or it is another server): they are made again",
            )
            journal.forget_server_state()
        journal.set("project", {"name": name, "id": project_id})
        # reused: the server had it (made by an earlier run, of this folder or another)
        self.emit("project", project_name=name, project_id=project_id, reused=existed)
        return project_id

    def _uploads(
        self, files: list[Path], checksums: dict[str, str], journal: Journal
    ) -> dict[str, str]:
        """name -> file_id for every input that is uploaded (now or by an earlier run)."""
        uploads = journal.section("uploads")
        done: dict[str, str] = {}
        pending: dict[str, Future[str]] = {}
        for path in files:
            saved = uploads.get(path.name)
            if isinstance(saved, dict) and saved.get("sha256") == checksums[path.name]:
                done[path.name] = saved["file_id"]
                self.emit("uploaded", name=path.name, file_id=saved["file_id"], reused=True)
                continue
            self.emit("upload_started", name=path.name)
            pending[path.name] = self.ctx.transfers.submit(
                self.ctx.client.uploads.upload_file, path
            )
        failed: dict[str, errors.VestisError] = {}
        refused: dict[str, str] = {}
        for name, future in pending.items():
            try:
                file_id = future.result()
            except errors.APIError as exc:
                if errors.is_transient(exc):
                    failed[name] = exc
                else:
                    refused[name] = exc.reason  # not an image the server takes
                continue
            except errors.VestisError as exc:
                failed[name] = exc
                continue
            journal.set_in("uploads", name, {"sha256": checksums[name], "file_id": file_id})
            done[name] = file_id
            self.emit("uploaded", name=name, file_id=file_id, reused=False)
        if failed:
            # Submitting without these would lose them for good (a job cannot be extended):
            # fail now, a re-run uploads only what is missing.
            raise FolderFailed(
                "Failed to upload: " + "; ".join(f"{n}: {e.reason}" for n, e in failed.items()),
                transient=all(errors.is_transient(e) for e in failed.values()),
            )
        self._refused(refused)
        ordered = {p.name: done[p.name] for p in files if p.name in done}
        self.emit("uploads_done", ok=len(ordered), total=len(files))
        if not ordered:
            raise FolderFailed("No images uploaded")
        return ordered

    def _refused(self, refused: dict[str, str]) -> None:
        """Inputs the server refused at upload: the folder stops before its job is submitted
        (the uploads done are kept for the re-run), or with --allow-partial goes on without."""
        if not refused:
            return
        if not self.ctx.allow_partial:
            lines = "\n".join(f"  - {name}: {why}" for name, why in refused.items())
            raise FolderFailed(
                f"The server refused {len(refused)} image(s); nothing was submitted:\n{lines}\n"
                + FIX_OR_SKIP
            )
        for name, why in refused.items():
            self.emit("upload_failed", name=name, message=why)
            self.missing.append(f"{name}: refused by the server, {why}")

    def _reference(self, journal: Journal) -> str | None:
        """The recolour's --reference-image, uploaded once (after the folder's images, as the
        reference script does) and remembered in the journal by its checksum."""
        path = self.ctx.spec.reference_image
        if path is None:
            return None
        checksum = sha256_file(path)
        saved = journal.get("reference")
        if isinstance(saved, dict) and saved.get("sha256") == checksum:
            return str(saved["file_id"])
        self.emit("upload_started", name=path.name)
        try:
            file_id = self.ctx.client.uploads.upload_file(path)
        except errors.VestisError as exc:
            raise FolderFailed(
                f"Failed to upload the reference image: {exc.reason}", transient=_transient(exc)
            ) from exc
        journal.set("reference", {"sha256": checksum, "file_id": file_id})
        self.emit("uploaded", name=path.name, file_id=file_id, reused=False)
        return file_id

    def _identity(self, journal: Journal) -> str:
        announced = self.ctx.identity.resolved  # the run said it once, before any folder
        try:
            code = self.ctx.identity.resolve()
        except IdentityError as exc:
            raise FolderFailed(str(exc), transient=exc.transient) from exc
        if self.ctx.identity.message and not announced:
            self.emit("identity", message=self.ctx.identity.message, code=code)
        journal.set("identity", {"code": code})
        return code

    def _notes(self, files: list[Path], uploaded: list[str]) -> list[str] | None:
        """--image-notes follow their file: note i belongs to the i-th input file (sorted), so a
        failed upload drops its own note instead of shifting the others."""
        notes = self.ctx.spec.image_notes
        if notes is None:
            return None
        by_name = {p.name: (notes[i] if i < len(notes) else "") for i, p in enumerate(files)}
        return [by_name[name] for name in uploaded]

    def _submit(self, body: dict[str, Any], inputs: list[str], journal: Journal) -> str:
        job = journal.prepare_job(fingerprint(body), inputs)
        if job.get("job_id"):
            self.emit("job_submitted", job_id=job["job_id"], resumed=True, total_outputs=None)
            return str(job["job_id"])
        create = getattr(self.ctx.client.jobs, CREATE_METHODS[self.kind])
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            self.ctx.pacer.acquire(on_wait=lambda s: self.emit("pacing", seconds=s))
            try:
                created = create(body, idempotency_key=job["idempotency_key"])
                break
            except errors.RateLimitError as exc:
                self.ctx.pacer.penalize(exc.retry_after)
                if attempt == SUBMIT_ATTEMPTS:
                    raise FolderFailed(
                        f"Failed to create job: {exc.reason}", transient=True
                    ) from exc
            except errors.VestisError as exc:
                raise FolderFailed(
                    f"Failed to create job: {exc.reason}", transient=_transient(exc)
                ) from exc
        journal.update_job(job_id=created.job_id, status="pending", submitted_at=_now())
        total = created.total_outputs
        if total is None and self.kind in ("flat", "packshot"):
            total = len(body.get("instructions") or [{}])
        self.emit("job_submitted", job_id=created.job_id, resumed=False, total_outputs=total)
        return str(created.job_id)

    def _wait(self, job_id: str, journal: Journal) -> str:
        self.emit("job_waiting", job_id=job_id)
        last: list[float] = [-1.0]

        def on_update(status: Any) -> None:
            progress = float(status.progress or 0.0)
            if progress != last[0]:
                last[0] = progress
                self.emit("job_progress", job_id=job_id, progress=progress, status=status.status)

        try:
            final = self.ctx.client.jobs.wait(
                job_id,
                timeout=self.ctx.job_timeout,
                poll_interval=self.ctx.poll_interval,
                on_update=on_update,
            )
        except errors.JobFailedError as exc:
            journal.update_job(status=exc.status, error=exc.error_message, finished_at=_now())
            self.emit("job_finished", job_id=job_id, status=exc.status, message=exc.error_message)
            if exc.error_message:
                journal.append("failures", {"time": _now(), "message": exc.error_message})
            return exc.status
        except errors.JobTimeoutError as exc:
            raise FolderFailed(
                f"Timeout: Job took longer than {self.ctx.job_timeout:g} seconds ({job_id}; "
                "run the same command again to keep waiting)"
            ) from exc
        except errors.VestisError as exc:
            raise FolderFailed(
                f"Error checking status: {exc.reason}", transient=_transient(exc)
            ) from exc
        journal.update_job(status=final.status, finished_at=_now())
        self.emit("job_finished", job_id=job_id, status=final.status)
        return str(final.status)

    def download(self, job_id: str, journal: Journal, approved_only: bool = False) -> None:
        """Fetch every completed result not yet on disk intact (only those approved in review
        with `approved_only`), then write metadata.json (the whole results body)."""
        self.emit("downloading", job_id=job_id)
        try:
            body = self.ctx.client.jobs.results_raw(job_id)
        except errors.VestisError as exc:
            raise FolderFailed(
                f"Failed to get results: {exc.reason}", transient=_transient(exc)
            ) from exc
        results = [r for r in body.get("results") or [] if isinstance(r, dict)]
        for r in results:
            if r.get("status") == "failed":
                message = r.get("error_message") or "failed"
                journal.append("failures", {"key": self._describe(r), "message": message})
                self.emit("output_failed", output=self._describe(r), message=message)
                self.missing.append(f"{self._describe(r)}: {message}")
        self._warnings(results, journal)
        ready: list[Any] = [r for r in results if r.get("status") == "completed" and image_url(r)]
        if approved_only:
            ready = [r for r in ready if r.get("feedback") == "like"]
        stems = assign_stems(ready)
        self.emit("downloads_planned", count=len(ready))
        self.output.mkdir(parents=True, exist_ok=True)
        downloads = journal.section("downloads")
        pending: dict[str, tuple[dict[str, Any], Future[bytes]]] = {}
        for r in ready:
            key = result_key(r)
            saved = downloads.get(key)
            if isinstance(saved, dict) and self._intact(saved):
                self.emit("download_skipped", file=saved["file"])
                continue
            url = image_url(r)
            pending[key] = (r, self.ctx.transfers.submit(self.ctx.client.downloads.fetch, url))
        failed: list[str] = []
        for key, (r, future) in pending.items():
            try:
                data = future.result()
            except errors.VestisError as exc:
                self.emit("download_failed", image_index=r.get("image_index"), message=exc.reason)
                failed.append(f"image {r.get('image_index')}: {exc.reason}")
                continue
            stem, orig_ext = stems[key]
            ext = extension_for(orig_ext, sniff_format(data))
            filename = f"{stem}.{ext}" if ext else stem
            _write_atomic(self.output / filename, data)
            journal.set_in(
                "downloads",
                key,
                {
                    "file": filename,
                    "sha256": sha256_bytes(data),
                    "image_index": r.get("image_index"),
                    "group_index": r.get("group_index"),
                    "version": r.get("version", 0),
                    "original_filename": r.get("original_filename"),
                    "model_used": r.get("model_used"),
                },
            )
            self.emit("downloaded", file=filename, model_used=r.get("model_used"))
        text = json.dumps(body, indent=2)
        (self.output / "metadata.json").write_text(text, encoding="utf-8")
        self.measures = summarise(body)
        if failed:
            raise FolderFailed("Failed to download: " + "; ".join(failed), transient=True)

    def _warnings(self, results: list[dict[str, Any]], journal: Journal) -> None:
        """What the server said it did differently from what was asked: each warning printed
        once for the folder with the outputs it concerns, and the model that really ran when it
        is not the one asked for. All are counted (`warning_count`) and journaled."""
        said: dict[str, list[str]] = {}
        for r in results:
            for warning in r.get("warnings") or []:
                said.setdefault(str(warning), []).append(self._describe(r))
                journal.append("warnings", f"{self._describe(r)}: {warning}")
        asked = self.ctx.spec.model
        ran = {str(r["model_used"]) for r in results if r.get("model_used")}
        if asked != "auto" and ran and ran != {asked}:
            note = f"--model {asked} was asked; the server ran {', '.join(sorted(ran))}"
            said[note] = []
            journal.append("warnings", note)
        for text, outputs in said.items():
            where = ""
            if len(outputs) == 1:
                where = f" [{outputs[0]}]"
            elif outputs:
                where = f" [{len(outputs)} outputs]"
            self.emit("warning", message=f"{text}{where}")
            self.warning_count += max(1, len(outputs))

    def _describe(self, result: dict[str, Any]) -> str:
        """Which output a message is about, in the user's terms."""
        if self.kind in ("swap", "recolor"):
            where = swap_label(result.get("image_index") or 0, result.get("group_index") or 0)
        else:
            where = flat_label(*flat_indexes(result))
        name = result.get("original_filename")
        return f"{name} ({where})" if name else where

    def _intact(self, entry: dict[str, Any]) -> bool:
        path = self.output / str(entry.get("file"))
        return path.is_file() and sha256_file(path) == entry.get("sha256")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename: a killed run leaves no half image
    under the final name (and the file gets the user's normal permissions)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
