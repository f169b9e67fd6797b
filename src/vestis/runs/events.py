"""What a run tells the user: one event stream, four renderings.

Workflows call `reporter.event(name, folder=..., **fields)`; the reporter renders it as the
reference scripts' console lines (plain, when stdout is not a terminal), a rich progress display
(terminal), one JSON object per line (`--json`), or nothing but errors (`--quiet`). Events never
carry a secret.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

BANNER = "=" * 70

#: Events shown only with --verbose in the human renderings.
VERBOSE_EVENTS = frozenset({"retry", "pacing", "upload_started", "download_skipped", "debug"})
#: Events whose line names the folder itself (no `[folder]` prefix).
UNPREFIXED = frozenset({"folder_done", "folder_failed", "batch_summary"})
#: Events that still show with --quiet.
QUIET_EVENTS = frozenset({"error", "batch_summary", "folder_failed", "output_failed", "incomplete"})


#: How each reference script names its inputs ("Found 3 SKU images to upload").
IMAGE_WORDS = {"flat": "SKU images", "packshot": "garment images", "recolor": "product images"}


def plain_message(name: str, f: dict[str, Any]) -> str | None:
    """The console line of an event, worded as the reference scripts word it."""
    swap = f.get("kind") == "swap"
    images = IMAGE_WORDS.get(str(f.get("kind")), "images")
    match name:
        case "banner":
            return f"{BANNER}\n{f['title']}\n{BANNER}"
        case "info" | "debug" | "error":
            return str(f["message"])
        case "warning":
            return f"Warning: {f['message']}"
        case "retry":
            return str(f["message"])
        case "pacing":
            return f"Pacing job submissions: waiting {f['seconds']:.1f}s for a free slot"
        case "files_found":
            return f"Found {f['count']} {images} to upload"
        case "project":
            if f.get("reused"):
                return f"Using existing project: {f['project_id']}"
            return f"Project ready: {f['project_name']} ({f['project_id']})"
        case "upload_started":
            return f"Uploading {f['name']}..."
        case "uploaded":
            suffix = " (already uploaded)" if f.get("reused") else ""
            return f"Uploaded: {f['name']} -> {f['file_id']}{suffix}"
        case "upload_failed":
            return f"Failed to upload: {f['name']} ({f['message']})"
        case "uploads_done":
            return f"Successfully uploaded {f['ok']}/{f['total']} {images}"
        case "identity":
            return str(f["message"])
        case "job_submitted":
            if f.get("resumed"):
                return f"Resuming job: {f['job_id']} (submitted by an earlier run)"
            if swap:
                return f"Job created: {f['job_id']}"
            total = f["total_outputs"]
            return f"Job created: {f['job_id']} ({total} output{'' if total == 1 else 's'})"
        case "job_waiting":
            return "Waiting for job to complete..."
        case "job_progress":
            return f"Progress: {f['progress']:.1f}% - Status: {f['status']}"
        case "job_finished":
            # a failed job's reason ends the folder's error line (FolderFailed): said once
            return f"Job finished with status: {f['status']}"
        case "output_failed":
            return f"Output failed: {f['output']}: {f['message']}"
        case "downloading":
            return "Retrieving results..." if swap else "Downloading results..."
        case "downloaded":
            model = f" (model: {f['model_used']})" if f.get("model_used") else ""
            return f"Downloaded: {f['file']}{model}"
        case "download_skipped":
            return f"Already downloaded: {f['file']}"
        case "download_failed":
            return f"Failed to download image {f['image_index']}: {f['message']}"
        case "results_saved":
            measures = f"\nMeasures: {f['measures']}" if f.get("measures") else ""
            return f"Results saved to {f['output']}{measures}"
        case "already_complete":
            gaps = f"; {f['missing']} missing" if f.get("missing") else ""
            return f"Already complete: {f['output']} (nothing to do{gaps})"
        case "complete" | "incomplete":
            return _end_of_run(name == "complete", f)
        case "folder_done" | "folder_failed":
            if f.get("error"):
                return f"[{f['index']}/{f['total']}] {f['folder']}: ERROR - {f['error']}"
            status = "OK" if f.get("ok") else "INCOMPLETE" if f.get("missing") else "FAILED"
            if f.get("missing"):
                status += f", {f['missing']} missing"
            if f.get("warnings"):
                status += f", {f['warnings']} warning{'s' if f['warnings'] > 1 else ''}"
            measures = f" - {f['measures']}" if f.get("measures") else ""
            line = f"[{f['index']}/{f['total']}] {f['folder']}: {status} ({f['seconds']:.1f}s)"
            return line + measures
        case "batch_summary":
            return str(f["message"])
    return None


def _end_of_run(accepted: bool, f: dict[str, Any]) -> str:
    """The closing banner of a single-folder run, with what is missing and the warnings."""
    missing: list[str] = list(f.get("missing") or [])
    warnings = int(f.get("warnings") or 0)
    if accepted:
        title = "Processing complete"
        if missing:
            title += f", {len(missing)} missing (accepted with --allow-partial)"
    else:
        title = f"Processing incomplete: {len(missing)} missing"
    if warnings:
        title += f"; {warnings} warning{'s' if warnings > 1 else ''} (printed above)"
    lines = [BANNER, title, *(f"  - {item}" for item in missing), BANNER]
    if not accepted:
        lines.append(
            "The job is done and its other outputs are saved; run the same command with "
            "--allow-partial to accept the folder as it is."
        )
    return "\n".join(lines)


class Reporter:
    """Base reporter: plain lines on `stream`. `folder` prefixes lines in a batch."""

    #: True when the output is for programs (one JSON object per line), not people: a command
    #: then reports a whole result as one event instead of lines of text.
    machine_readable = False

    def __init__(
        self, *, verbose: bool = False, stream: IO[str] | None = None, prefix: bool = False
    ) -> None:
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.prefix = prefix
        self._lock = threading.Lock()

    def event(self, name: str, /, folder: str | None = None, **fields: Any) -> None:
        if name in VERBOSE_EVENTS and not self.verbose:
            return
        message = plain_message(name, {**fields, "folder": folder})
        if message is None:
            return
        if self.prefix and folder and name not in UNPREFIXED:
            message = "\n".join(f"[{folder}] {line}" for line in message.splitlines())
        self.write(message)

    def write(self, message: str) -> None:
        with self._lock:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the display (rich stops its live area)."""


class QuietReporter(Reporter):
    """Only errors, failed folders and the batch summary line."""

    def event(self, name: str, /, folder: str | None = None, **fields: Any) -> None:
        if name in QUIET_EVENTS or (name == "folder_done" and not fields.get("ok")):
            super().event(name, folder, **fields)


class JsonReporter(Reporter):
    """One JSON object per line: {"event", "time", "folder", ...fields}."""

    machine_readable = True

    def event(self, name: str, /, folder: str | None = None, **fields: Any) -> None:
        if name == "banner":
            return
        record: dict[str, Any] = {"event": name, "time": round(time.time(), 3)}
        if folder is not None:
            record["folder"] = folder
        record.update(fields)
        self.write(json.dumps(record, default=str))
