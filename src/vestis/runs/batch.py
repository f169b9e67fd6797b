"""Running one folder (`model-swap`, `flat-to-model`) or many (`batch-swap`,
`batch-flat2model`): banners, batch header, completion lines, summary, exit codes (spec §4.6,
§5)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from vestis.runs.context import RunContext, redact
from vestis.runs.folder import FolderResult, FolderRun
from vestis.runs.summary import FolderOutcome, build_summary, write_summary

#: A batch tries a folder that failed for a transient reason (network, 429, 5xx) this often in
#: all; each attempt resumes from the journal, so nothing is redone.
FOLDER_ATTEMPTS = 3


#: Makes the runner of one folder: `FolderRun` (On-Model v2), or another provider's subclass
#: (`runs.fashn_provider.FashnFolderRun`), called as `runner(ctx, folder, output, label=...)`.
FolderRunner = Callable[..., FolderRun]


def run_single(
    ctx: RunContext, folder: Path, output: Path, runner: FolderRunner = FolderRun
) -> int:
    """The single-folder command: 0 when the job completed and every output was saved (or
    --allow-partial accepts what is missing), else 1."""
    ctx.reporter.event("banner", title=ctx.spec.title)
    try:
        result = runner(ctx, folder, output).run()
    except Exception as exc:  # unexpected: say what, keep the traceback for --verbose
        ctx.reporter.event("error", message=redact(f"Error: {type(exc).__name__}: {exc}"))
        ctx.reporter.event("debug", message=traceback.format_exc())
        return 1
    if not result.ok:
        return 1
    accepted = result.complete or ctx.allow_partial
    ctx.reporter.event(
        "complete" if accepted else "incomplete",
        missing=result.missing,
        warnings=result.warnings,
    )
    return 0 if accepted else 1


def list_input_dir(input_dir: Path) -> list[Path]:
    """Every immediate subdirectory, sorted, hidden ones included (as the reference does)."""
    return sorted((p for p in input_dir.iterdir() if p.is_dir()), key=lambda p: p.name)


def batch_header(ctx: RunContext, folders: list[Path], parallel: int, output_dir: Path) -> None:
    spec = ctx.spec
    lines = [
        f"Folders to process: {len(folders)}",
        f"Parallel workers: {parallel}",
        f"Output directory: {output_dir}",
    ]
    if spec.kind == "swap":
        lines += [
            f"Post-processing: {spec.post_process}",
            f"Model: {spec.model}",
            f"Consistency: {'on' if spec.use_anchor else 'off'}",
        ]
    else:
        lines += [
            f"Model: {spec.model}",
            f"Consistency: {'on' if spec.enhance_consistency else 'off'}",
            f"Barefoot: {'on' if spec.barefoot else 'off'}",
        ]
    lines.append(f"API base URL: {ctx.base_url}")
    if spec.kind == "flat" and spec.instructions_file is not None:
        lines.append(f"Instructions file: {spec.instructions_file}")
    lines += [f"  {i}. {folder.name}" for i, folder in enumerate(folders, 1)]
    title = "Batch Model Swap" if spec.kind == "swap" else "Batch Flat-to-Model"
    ctx.reporter.event("banner", title=title)
    ctx.reporter.event("info", message="\n".join(lines))
    ctx.reporter.event("batch_started", total=len(folders), folders=[f.name for f in folders])


def _run_folder(
    ctx: RunContext, folder: Path, output: Path, runner: FolderRunner = FolderRun
) -> FolderResult:
    """One folder with its transient-failure retries; times add up over the attempts."""
    total = 0.0
    for attempt in range(1, FOLDER_ATTEMPTS + 1):
        result = runner(ctx, folder, output, label=folder.name).run()
        total += result.seconds
        if result.ok or not result.transient or attempt == FOLDER_ATTEMPTS:
            result.seconds = total
            return result
        ctx.reporter.event(
            "warning", folder=folder.name, message=f"retrying folder (attempt {attempt + 1})"
        )
    raise AssertionError("unreachable")


def run_batch(
    ctx: RunContext,
    folders: list[Path],
    output_dir: Path,
    parallel: int,
    configuration: dict[str, Any],
    runner: FolderRunner = FolderRun,
) -> int:
    """Every folder into `<output_dir>/<folder name>/`, `parallel` at a time; writes the batch
    summary; 1 if any folder failed."""
    batch_header(ctx, folders, parallel, output_dir)
    started = time.monotonic()
    outcomes: list[FolderOutcome] = []
    pool = ThreadPoolExecutor(parallel, "vestis-folder")
    try:
        futures: dict[Future[FolderResult], Path] = {
            pool.submit(_run_folder, ctx, folder, output_dir / folder.name, runner): folder
            for folder in folders
        }
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in done:
                folder = futures[future]
                outcomes.append(_outcome(ctx, folder, future, len(outcomes) + 1, len(folders)))
    except BaseException:
        # Interrupted (or worse): do not wait for the folders in flight, their journals are
        # consistent at every step.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    elapsed = time.monotonic() - started
    summary = build_summary(configuration, outcomes, elapsed)
    path = write_summary(output_dir, summary)
    _print_summary(ctx, outcomes, elapsed, path)
    return 0 if all(o.success for o in outcomes) else 1


def _outcome(
    ctx: RunContext, folder: Path, future: Future[FolderResult], index: int, total: int
) -> FolderOutcome:
    try:
        result = future.result()
    except Exception as exc:  # a bug or an unexpected error in one worker must not stop the rest
        error = redact(f"{type(exc).__name__}: {exc}")
        ctx.reporter.event(
            "folder_done",
            folder=folder.name,
            index=index,
            total=total,
            ok=False,
            error=error,
            seconds=0.0,
        )
        return FolderOutcome(folder.name, False, 0.0, error=error)
    success = result.complete or (result.ok and ctx.allow_partial)
    ctx.reporter.event(
        "folder_done",
        folder=folder.name,
        index=index,
        total=total,
        ok=success,
        seconds=result.seconds,
        message=result.message,
        job_id=result.job_id,
        measures=result.measures,
        missing=len(result.missing),
        warnings=result.warnings,
    )
    return FolderOutcome(
        folder.name,
        success,
        result.seconds,
        message=result.message,
        missing=result.missing,
        warnings=result.warnings,
    )


def _print_summary(
    ctx: RunContext, outcomes: list[FolderOutcome], elapsed: float, path: Path
) -> None:
    ok = sum(1 for o in outcomes if o.success)
    lines = [
        "=" * 70,
        "Batch Summary",
        "=" * 70,
        f"Total: {len(outcomes)}",
        f"Successful: {ok}",
        f"Failed: {len(outcomes) - ok}",
        f"Time: {elapsed:.1f}s ({elapsed / 60:.1f} minutes)",
    ]
    warnings = sum(o.warnings for o in outcomes)
    if warnings:
        lines.append(f"Warnings: {warnings} (printed above, and in each folder's journal)")
    failed = [o for o in outcomes if not o.success and not o.missing]
    if failed:
        lines.append("Failed folders:")
        for o in failed:
            why = o.error or o.message or "see console output above"
            lines.append(f"  - {o.folder}: " + "\n      ".join(why.splitlines()))
    partial = [o for o in outcomes if o.missing]
    if partial:
        heading = (
            "Accepted with gaps (--allow-partial):"
            if ctx.allow_partial
            else ("Incomplete folders (run with --allow-partial to accept them as they are):")
        )
        lines.append(heading)
        for o in partial:
            lines += [f"  - {o.folder}: {len(o.missing)} missing"]
            lines += [f"      {item}" for item in o.missing]
    lines.append(f"Batch summary saved to {path}")
    ctx.reporter.event(
        "batch_summary",
        message="\n".join(lines),
        total=len(outcomes),
        successful=ok,
        failed=len(outcomes) - ok,
        seconds=round(elapsed, 1),
        summary_path=str(path),
    )
