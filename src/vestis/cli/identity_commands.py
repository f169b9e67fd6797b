"""`vestis identities create | promote`: the public create_identity.py's workflow (a brief or a
reference photo -> draft identities -> one promoted -> its preprocessing -> provenance in
`<output>/<identity_code>/metadata.json`, drafts in `<output>/drafts/`)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from vestis.cli import options as o
from vestis.cli.connection import Connection
from vestis.cli.resource_commands import _call, _connected, identities_app
from vestis.cli.usage import usage_error
from vestis.client import Client

Brief = Annotated[Path | None, typer.Option("--brief", help="A brief JSON file (the body).")]
FromImage = Annotated[
    Path | None,
    typer.Option("--from-image", help="Build the brief from a reference photo's attributes."),
]
OutputFolder = Annotated[Path, typer.Option("--output-folder", help="Drafts and metadata.")]
AutoPromote = Annotated[bool, typer.Option("--auto-promote", help="Promote the first draft.")]
Pick = Annotated[str | None, typer.Option("--pick", help="The image_result_id to promote.")]
Name = Annotated[str | None, typer.Option("--name", help="The identity's name.")]
Variations = Annotated[int, typer.Option("--num-variations", help="Drafts (--from-image).")]
SaveBrief = Annotated[
    Path | None, typer.Option("--save-brief", help="Write the extracted brief here.")
]
#: create_identity.py waits 900 s for drafts and 600 s for preprocessing.
DRAFTS_TIMEOUT = 900.0
PREPROCESSING_TIMEOUT = 600.0


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _brief_from_image(
    client: Client, image: Path, name: str | None, variations: int
) -> dict[str, Any]:
    """The extracted appearance/face/hair groups wrapped in a brief, as the script builds it."""
    if not image.is_file():
        _fail(f"Reference image not found: {image}")
    file_id = _call(lambda: client.uploads.upload_file(image))
    extracted = _call(lambda: client.identities.extract_preset(file_id)).instruction_data
    instruction: dict[str, Any] = {
        k: v for k, v in extracted.items() if k in ("appearance", "face", "hair") and v
    }
    if not instruction:
        _fail("Preset extraction returned no usable structured fields")
    instruction["num_variations"] = variations
    instruction["options"] = {"ar": "3:4", "size": "2K", "format": "jpg"}
    return {
        "instructions": [instruction],
        "options": {"model": "auto"},
        "name": name or f"From {image.stem}",
    }


def _load_brief(path: Path) -> dict[str, Any]:
    if not path.is_file():
        _fail(f"Brief file not found: {path}")
    try:
        brief = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        _fail(f"Invalid JSON in brief: {exc}")
    if not isinstance(brief, dict) or not brief.get("instructions"):
        _fail("Brief must contain a non-empty 'instructions' list")
    return dict(brief)


def _drafts(conn: Connection, job_id: str, output: Path) -> list[dict[str, Any]]:
    """Wait for the creation job, then download every completed draft to `output/drafts/`."""
    client = conn.client
    _call(lambda: client.jobs.wait(job_id, timeout=DRAFTS_TIMEOUT))
    body = _call(lambda: client.jobs.results_raw(job_id))
    drafts = []
    folder = output / "drafts"
    folder.mkdir(parents=True, exist_ok=True)
    for result in body.get("results") or []:
        url = (result.get("output") or {}).get("full_size") or result.get("url")
        draft_id = result.get("image_result_id") or result.get("output_id") or result.get("id")
        if result.get("status") != "completed" or not url or not draft_id:
            continue
        path = folder / f"draft_{draft_id}.jpg"
        path.write_bytes(_call(lambda url=url: client.downloads.fetch(url)))
        typer.echo(f"Downloaded: {path.name}", err=True)
        drafts.append({"image_result_id": draft_id, "url": url, "local_path": str(path),
                       "version": result.get("version", 0)})  # fmt: skip
    if not drafts:
        _fail("No completed drafts in job results")
    return drafts


def _choose(drafts: list[dict[str, Any]], pick: str | None, auto: bool) -> str:
    ids = [d["image_result_id"] for d in drafts]
    if pick is not None:
        if pick not in ids:
            _fail(f"--pick {pick} is not in this job's drafts")
        return pick
    if auto or not sys.stdin.isatty():
        return str(ids[0])
    for index, draft in enumerate(drafts):
        typer.echo(f"  [{index}] {draft['image_result_id']}  {draft['local_path']}", err=True)
    chosen = typer.prompt(f"Pick a draft to promote (0-{len(drafts) - 1})", type=int)
    if not 0 <= chosen < len(drafts):
        _fail("Out of range")
    return str(ids[chosen])


def _wait_preprocessing(client: Client, code: str) -> str:
    deadline = time.monotonic() + PREPROCESSING_TIMEOUT
    while True:
        status = _call(lambda: client.identities.status(code)).preprocessing_status
        if status in ("completed", "failed") or time.monotonic() > deadline:
            return str(status)
        time.sleep(3)


def identities_create(
    ctx: typer.Context,
    brief: Brief = None,
    from_image: FromImage = None,
    output_folder: OutputFolder = Path("output"),
    auto_promote: AutoPromote = False,
    pick: Pick = None,
    name: Name = None,
    num_variations: Variations = 3,
    save_brief: SaveBrief = None,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """Draft identities from a brief (or a reference photo), promote one, and keep its
    provenance. Needs an engine that draws people (the hosted On-Model service)."""
    if (brief is None) == (from_image is None):
        usage_error(ctx, "Give one of --brief or --from-image")
    with _connected(ctx, base_url, token, username, password) as conn:
        client = conn.client
        if from_image is not None:
            body = _brief_from_image(client, from_image, name, num_variations)
            if save_brief is not None:
                save_brief.parent.mkdir(parents=True, exist_ok=True)
                save_brief.write_text(json.dumps(body, indent=2), encoding="utf-8")
        else:
            body = _load_brief(brief)  # type: ignore[arg-type]
        created = _call(lambda: client.identities.create(body))
        typer.echo(f"Creation job dispatched: {created.job_id}", err=True)
        drafts = _drafts(conn, created.job_id, output_folder)
        chosen = _choose(drafts, pick, auto_promote)
        promoted = _call(lambda: client.identities.promote(chosen, name))
        status = _wait_preprocessing(client, promoted.identity_code)
    folder = output_folder / promoted.identity_code
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {
        "identity_code": promoted.identity_code,
        "preprocessing_job_id": promoted.preprocessing_job_id,
        "preprocessing_status": status,
        "creation_job_id": created.job_id,
        "promoted_image_result_id": chosen,
        "brief": body,
        "drafts": drafts,
    }
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    typer.echo(promoted.identity_code)


def identities_promote(
    ctx: typer.Context,
    image_result_id: Annotated[str, typer.Argument(help="A result's output id / image_result_id.")],
    name: Name = None,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """Make a generated image (a job's output) an identity; prints its code (the existing one
    when it was promoted before). 50 credits."""
    with _connected(ctx, base_url, token, username, password) as conn:
        promoted = _call(lambda: conn.client.identities.promote(image_result_id, name))
    typer.echo(promoted.identity_code)


def register() -> None:
    identities_app.command("create")(identities_create)
    identities_app.command("promote")(identities_promote)
