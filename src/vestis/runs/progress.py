"""The terminal rendering of run events: one rich progress display (folders, images, job), and
`make_reporter`, the rendering for the flags (it names every reporter, so it sits above them)."""

from __future__ import annotations

import sys
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from vestis.runs.events import UNPREFIXED, JsonReporter, QuietReporter, Reporter, plain_message

#: Events printed above the bars; the rest only move them.
_LOGGED = frozenset(
    {
        "error",
        "warning",
        "upload_failed",
        "output_failed",
        "download_failed",
        "folder_done",
        "batch_summary",
        "results_saved",
        "already_complete",
        "job_submitted",
        "info",
        "identity",
        "complete",
        "incomplete",
    }
)


#: The last word of a run (batch, or single folder).
_THE_END = frozenset({"batch_summary", "complete", "incomplete"})

#: Events that move a folder's bar.
_STAGES = frozenset(
    {
        "files_found",
        "uploaded",
        "job_submitted",
        "job_waiting",
        "job_progress",
        "downloads_planned",
        "downloaded",
        "download_skipped",
        "results_saved",
        "already_complete",
        "error",
    }
)


class RichReporter(Reporter):
    """A live display: an overall folder bar (batch) and one bar per active folder showing its
    stage (uploading n/N, job p%, downloading n/N)."""

    def __init__(
        self, *, verbose: bool = False, stream: IO[str] | None = None, prefix: bool = False
    ) -> None:
        super().__init__(verbose=verbose, stream=stream, prefix=prefix)
        self.console = Console(file=self.stream)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stage]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self._tasks: dict[str, TaskID] = {}
        #: The input folder of a single-folder run (its events carry no batch label).
        self._single = "run"
        self._overall: TaskID | None = None
        self._counts: dict[str, dict[str, int]] = {}

    def _task(self, folder: str) -> TaskID:
        if folder not in self._tasks:
            self._tasks[folder] = self.progress.add_task(folder, total=None, stage="starting")
            self._counts[folder] = {"uploaded": 0, "downloaded": 0}
        return self._tasks[folder]

    def event(self, name: str, /, folder: str | None = None, **fields: Any) -> None:
        with self._lock:
            self._update(name, folder, fields)
            if name in _THE_END:
                self._clear()
        if name in _LOGGED or (self.verbose and name not in ("job_progress", "downloads_planned")):
            message = plain_message(name, {**fields, "folder": folder})
            if message and name != "banner":
                if self.prefix and folder and name not in UNPREFIXED:
                    message = f"[{folder}] {message}"
                self.console.print(message, markup=False, highlight=False)

    def _update(self, name: str, folder: str | None, f: dict[str, Any]) -> None:
        if name == "batch_started":
            self._overall = self.progress.add_task("Folders", total=f["total"], stage="")
            return
        if name == "folder_done" and self._overall is not None:
            self.progress.advance(self._overall)
        if name not in _STAGES:
            return
        if folder is None and name in ("files_found", "already_complete") and f.get("source"):
            self._single = str(f["source"])
        if name == "error" and (folder or self._single) not in self._tasks:
            return  # an error before any folder started (connection, identity): no bar
        task = self._task(folder or self._single)
        counts = self._counts[folder or self._single]
        if name == "files_found":
            self.progress.update(task, total=f["count"], completed=0, stage="uploading")
        elif name == "uploaded":
            counts["uploaded"] += 1
            self.progress.update(task, completed=counts["uploaded"], stage="uploading")
        elif name in ("job_submitted", "job_waiting"):
            self.progress.update(task, total=100, completed=0, stage="job pending")
        elif name == "job_progress":
            self.progress.update(task, completed=f["progress"], stage=f"job {f['status']}")
        elif name == "downloads_planned":
            self.progress.update(task, total=max(f["count"], 1), completed=0, stage="downloading")
        elif name in ("downloaded", "download_skipped"):
            counts["downloaded"] += 1
            self.progress.update(task, completed=counts["downloaded"], stage="downloading")
        elif name in ("results_saved", "already_complete"):
            # by id: the list's positions shift once a finished run's bars were removed
            total = next(t.total for t in self.progress.tasks if t.id == task) or 1
            self.progress.update(task, total=total, completed=total, stage="done")
            self.progress.stop_task(task)
        elif name in ("folder_done", "folder_failed", "error") and not f.get("ok"):
            self.progress.update(task, stage="failed")
            self.progress.stop_task(task)

    def _clear(self) -> None:
        """The run is over and its folders' lines say how each ended: the bars go, so the
        summary is the last thing on the screen (rich would draw them again under it). The
        demo's second batch starts new ones."""
        for task in list(self._tasks.values()):
            self.progress.remove_task(task)
        if self._overall is not None:
            self.progress.remove_task(self._overall)
        self._tasks.clear()
        self._counts.clear()
        self._overall = None
        self.progress.refresh()  # else the next print draws the last frame's bars once more

    def close(self) -> None:
        self.progress.stop()


def make_reporter(
    *, json_mode: bool, quiet: bool, verbose: bool, batch: bool, stream: IO[str] | None = None
) -> Reporter:
    """The reporter for the flags and the terminal: json > quiet > rich (a tty) > plain."""
    out = stream or sys.stdout
    if json_mode:
        return JsonReporter(stream=out)
    if quiet:
        return QuietReporter(stream=out, prefix=batch)
    if out.isatty():
        return RichReporter(verbose=verbose, stream=out, prefix=batch)
    return Reporter(verbose=verbose, stream=out, prefix=batch)
