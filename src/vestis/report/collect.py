"""What a review page shows, read from an output folder: the journal, metadata.json and the
batch summaries. Nothing here talks to a server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vestis.runs.journal import JOURNAL_NAME, Journal
from vestis.runs.measures import summarise


@dataclass
class OutputImage:
    path: Path
    image_index: int
    group_index: int
    version: int
    model_used: str | None
    quality_score: float | None = None
    #: The server's measures of this output (vestis extension), from metadata.json.
    metrics: dict[str, Any] | None = None


@dataclass
class RunView:
    """One output folder (one job)."""

    name: str
    folder: Path
    kind: str
    status: str
    job_id: str | None
    input_folder: Path | None
    inputs: list[Path]
    outputs: list[OutputImage]
    models: list[str]
    timings: dict[str, Any]
    failures: list[str]
    warnings: list[str]
    error: str | None = None
    #: The outputs' measures in a few words (`runs.measures`), when the server measured them.
    measures: str | None = None
    #: The identity photo of the run (when it was a local file) and the identity's name or code.
    identity_image: Path | None = None
    identity_label: str | None = None
    #: Flat-to-model: the instructions, in order (an output's group_index points into them).
    instructions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReportData:
    root: Path
    runs: list[RunView] = field(default_factory=list)
    #: The newest batch summary of the root and of each subfolder that has one.
    summaries: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)


def _status(journal: dict[str, Any]) -> str:
    if journal.get("completed"):
        return "completed"
    job = journal.get("job") or {}
    if job.get("status") in ("failed", "aborted"):
        return str(job["status"])
    if journal.get("failures"):
        return "failed"
    return "incomplete"


def read_run(folder: Path) -> RunView | None:
    journal = Journal.read(folder)
    if journal is None:
        return None
    job = journal.get("job") or {}
    input_folder = Path(journal["input_folder"]) if journal.get("input_folder") else None
    names = job.get("inputs") or list((journal.get("uploads") or {}).keys())
    inputs = [input_folder / n for n in names] if input_folder else []
    outputs = [
        OutputImage(
            path=folder / entry["file"],
            image_index=int(entry.get("image_index") or 0),
            group_index=int(entry.get("group_index") or 0),
            version=int(entry.get("version") or 0),
            model_used=entry.get("model_used"),
        )
        for entry in (journal.get("downloads") or {}).values()
    ]
    outputs.sort(key=lambda o: (o.group_index, o.image_index, o.version, o.path.name))
    body = _metadata(folder)
    _attach_measures(outputs, body)
    failures = [
        f"{str(f['key']) + ': ' if f.get('key') else ''}{f.get('message')}"
        for f in journal.get("failures") or []
        if isinstance(f, dict)
    ]
    # Inputs skipped or refused (--allow-partial) are missing too; failed outputs are listed once.
    failures += [str(m) for m in journal.get("missing") or [] if str(m) not in failures]
    models = sorted({o.model_used for o in outputs if o.model_used})
    return RunView(
        name=folder.name,
        folder=folder,
        kind=str(journal.get("kind") or "swap"),
        status=_status(journal),
        job_id=job.get("job_id"),
        input_folder=input_folder,
        inputs=inputs,
        outputs=outputs,
        models=models,
        timings=dict(journal.get("timings") or {}),
        failures=failures,
        warnings=[str(w) for w in journal.get("warnings") or []],
        error=job.get("error"),
        measures=summarise(body),
        **_review_facts(journal, body),
    )


def _review_facts(journal: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The identity photo and label, and the instructions, as the run recorded them."""
    review = journal.get("review") or {}
    image = review.get("identity_image")
    code = (journal.get("identity") or {}).get("code")
    return {
        "identity_image": Path(image) if image else None,
        "identity_label": body.get("identity_name") or code,
        "instructions": [i for i in review.get("instructions") or [] if isinstance(i, dict)],
    }


def _metadata(folder: Path) -> dict[str, Any]:
    """The raw results body the run saved (metadata.json), or {}."""
    try:
        body = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _attach_measures(outputs: list[OutputImage], body: dict[str, Any]) -> None:
    by_key = {
        (r.get("image_index", 0), r.get("group_index", 0), r.get("version", 0)): r
        for r in body.get("results") or []
        if isinstance(r, dict)
    }
    for output in outputs:
        result = by_key.get((output.image_index, output.group_index, output.version))
        if result is not None:
            metrics = result.get("metrics")
            output.metrics = metrics if isinstance(metrics, dict) else None
            output.quality_score = result.get("quality_score")


def latest_summary(root: Path) -> tuple[dict[str, Any] | None, Path | None]:
    paths = sorted(root.glob("batch_summary_*.json"))
    if not paths:
        return None, None
    try:
        return json.loads(paths[-1].read_text(encoding="utf-8")), paths[-1]
    except (json.JSONDecodeError, OSError):
        return None, None


def collect(root: Path) -> ReportData:
    """Every run under `root`: the root itself (single run), its subfolders (a batch) or their
    subfolders (e.g. the demo's model-swap/ and flat-to-model/ batches)."""
    data = ReportData(root=root)
    folders = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    folders += [q for p in folders[1:] for q in sorted(x for x in p.iterdir() if x.is_dir())]
    for folder in folders:
        if (folder / JOURNAL_NAME).is_file():
            run = read_run(folder)
            if run is not None:
                run.name = folder.relative_to(root).as_posix() if folder != root else root.name
                data.runs.append(run)
    for folder in folders[: 1 + sum(1 for p in root.iterdir() if p.is_dir())]:
        summary, path = latest_summary(folder)
        if summary is None or path is None:
            continue
        data.summaries.append((path, summary))
        _add_unjournaled(data, root, folder, summary)
    return data


def _add_unjournaled(data: ReportData, root: Path, folder: Path, summary: dict[str, Any]) -> None:
    """Failed folders a summary names that never got a journal (e.g. a missing input)."""
    known = {r.folder.resolve() for r in data.runs}
    for entry in summary.get("results", []):
        target = folder / str(entry.get("folder"))
        if entry.get("success") or target.resolve() in known:
            continue
        data.runs.append(
            RunView(
                name=target.relative_to(root).as_posix(),
                folder=target,
                kind="",
                status="failed",
                job_id=None,
                input_folder=None,
                inputs=[],
                outputs=[],
                models=[],
                timings={},
                failures=[entry.get("error") or "see console output"],
                warnings=[],
            )
        )
