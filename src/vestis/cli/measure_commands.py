"""`vestis measure swap` and `vestis measure flat`: the quality measures of outputs on disk,
whoever made them (this server, the hosted service, another tool). Each prints the JSON object
a result carries (`quality_score`, `detail_needs_review`, `detail_review_reason`, `warnings`,
`metrics`), as the server would score and flag that output.

A manifest (JSON lines) measures hundreds of outputs in one process: the models load once."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from vestis.cli.usage import usage_error

measure_app = typer.Typer(
    help="Measure outputs on disk as the server measures its own: identity, realism, "
    "garments kept; the score and what a reviewer should check.",
    no_args_is_help=True,
)

#: The files each kind of output is measured against, as a manifest line names them.
SWAP_KEYS = ("original", "identity", "output")
FLAT_KEYS = ("identity", "output")

Manifest = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        help='JSON lines, one output each, e.g. {"original": ..., "identity": ..., '
        '"output": ...}; relative paths are from the manifest\'s folder. Prints one object '
        "per line, in order.",
        show_default=False,
    ),
]


def _file_option(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False)


class ManifestError(ValueError):
    """A manifest line that cannot be measured; the message names the line."""


def _entries(manifest: Path, keys: tuple[str, ...]) -> list[dict[str, Path]]:
    """Every line of the manifest, checked before anything is measured: JSON objects naming
    each of `keys`, files that exist. Blank lines are skipped (the numbering counts them)."""
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read the manifest {manifest}: {exc}") from None
    entries, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(_entry(line, keys, manifest.parent))
        except ManifestError as exc:
            problems.append(f"{manifest} line {number}: {exc}")
    if problems:
        raise ManifestError("\n".join(problems))
    if not entries:
        raise ManifestError(f"{manifest}: no outputs to measure (no JSON lines)")
    return entries


def _entry(line: str, keys: tuple[str, ...], base: Path) -> dict[str, Path]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise ManifestError(f"not a JSON object with {', '.join(keys)}")
    missing = [k for k in keys if not isinstance(row.get(k), str) or not row[k]]
    if missing:
        raise ManifestError(f"no {', '.join(missing)} (each line names {', '.join(keys)})")
    paths = {k: base / Path(row[k]).expanduser() for k in keys}
    absent = [f"{k} {paths[k]}" for k in keys if not paths[k].is_file()]
    if absent:
        raise ManifestError(f"no such file: {'; '.join(absent)}")
    return paths


def _print(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def _measure_all(
    entries: list[dict[str, Path]], measure: Callable[..., dict[str, Any]], manifest: Path
) -> int:
    """Measure each entry in order, one line each; an unreadable image gets an error line in
    its place (the next lines keep their order) and makes the exit code 1."""
    from vestis.quality.review import UnreadableImage

    failed = 0
    for number, entry in enumerate(entries, start=1):
        try:
            _print(measure(**entry))
        except UnreadableImage as exc:
            failed += 1
            typer.echo(f"Error: {manifest} entry {number}: {exc}", err=True)
            _print({"error": str(exc), "entry": number})
    return 1 if failed else 0


def _run(
    ctx: typer.Context,
    manifest: Path | None,
    files: dict[str, Path | None],
    measure: Callable[..., dict[str, Any]],
) -> None:
    given = [k for k, v in files.items() if v is not None]
    if manifest is not None and given:
        usage_error(ctx, f"--manifest or --{', --'.join(files)}, not both")
    if manifest is None:
        if len(given) != len(files):
            absent = [f"--{k}" for k in files if files[k] is None]
            usage_error(ctx, f"missing {', '.join(absent)} (or give --manifest)")
        entries = [{k: v for k, v in files.items() if v is not None}]
        missing = [f"{k} {p}" for k, p in entries[0].items() if not p.is_file()]
        if missing:
            typer.echo(f"Error: no such file: {'; '.join(missing)}", err=True)
            raise typer.Exit(1)
        source = Path("(command line)")
    else:
        try:
            entries = _entries(manifest, tuple(files))
        except ManifestError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from None
        source = manifest
    raise typer.Exit(_measure_all(entries, measure, source))


def swap(
    ctx: typer.Context,
    original: Annotated[Path | None, _file_option("The photo the swap was made from.")] = None,
    identity: Annotated[Path | None, _file_option("The identity's face photo.")] = None,
    output: Annotated[Path | None, _file_option("The model-swap output to measure.")] = None,
    manifest: Manifest = None,
) -> None:
    """Measure model-swap outputs: is the face the identity, does it look like a photo
    (realism defects), are the garments untouched; with the score and review flag a result
    carries."""
    from vestis.quality.review import measure_swap_files

    files = {"original": original, "identity": identity, "output": output}
    _run(ctx, manifest, files, measure_swap_files)


def flat(
    ctx: typer.Context,
    identity: Annotated[Path | None, _file_option("The identity's face photo.")] = None,
    output: Annotated[Path | None, _file_option("The flat-to-model output to measure.")] = None,
    manifest: Manifest = None,
) -> None:
    """Measure flat-to-model outputs: is the face they show the identity; with the score and
    review flag a result carries."""
    from vestis.quality.review import measure_flat_files

    _run(ctx, manifest, {"identity": identity, "output": output}, measure_flat_files)


measure_app.command("swap")(swap)
measure_app.command("flat")(flat)


def register(app: typer.Typer) -> None:
    app.add_typer(measure_app, name="measure")
