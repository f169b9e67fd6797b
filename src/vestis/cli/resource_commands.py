"""`vestis identities ...`, `vestis jobs ...` and `vestis report`: the API's resources one call at
a time, on the same connection rules as the run commands (embedded default included)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from vestis.cli import options as o
from vestis.cli.connection import Connection, Credentials, connect
from vestis.client import errors

identities_app = typer.Typer(
    help="Upload, list, show and delete identities, and add or remove their photos.",
    no_args_is_help=True,
)
jobs_app = typer.Typer(
    help="Status, results, waiting and downloads of a job.", no_args_is_help=True
)

JobId = Annotated[str, typer.Argument(help="Job id.")]
Code = Annotated[str, typer.Argument(help="Identity code.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the raw JSON body.")]


@contextmanager
def _connected(
    ctx: typer.Context,
    base_url: str | None,
    token: str | None,
    username: str | None,
    password: str | None,
    *,
    outputs: bool = True,
) -> Iterator[Connection]:
    """`outputs=False`: the command makes no outputs and uploads no identity (it lists, shows,
    deletes), so the embedded server, if it is used, starts without workers and engine."""
    creds = Credentials(base_url, token, username, password)
    creds.validate(ctx)
    try:
        with connect(creds, announce=lambda m: typer.echo(m, err=True), outputs=outputs) as conn:
            yield conn
    except errors.VestisError as exc:
        typer.echo(f"Error: {exc.reason}", err=True)
        raise typer.Exit(1) from exc


def _print_json(value: Any, embedded: bool = False) -> None:
    """`embedded`: the body came from the embedded server, whose port lives only as long as
    this command: its links would be dead once printed, so they are left out."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if embedded:
        value = _without_links(value)
    typer.echo(json.dumps(value, indent=2))


def _without_links(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_links(v) for k, v in value.items() if k not in ("link", "url")}
    if isinstance(value, list):
        return [_without_links(v) for v in value]
    return value


def _call(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except errors.VestisError as exc:
        typer.echo(f"Error: {exc.reason}", err=True)
        raise typer.Exit(1) from exc


# --- identities ----------------------------------------------------------------------------------


@identities_app.command("list")
def identities_list(
    ctx: typer.Context,
    search: Annotated[str | None, typer.Option("--search", help="Name contains.")] = None,
    page: Annotated[int, typer.Option("--page", help="Page to show, from 1.")] = 1,
    per_page: Annotated[int, typer.Option("--per-page", help="Identities per page.")] = 20,
    as_json: AsJson = False,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """List identities (yours, shared and the defaults)."""
    with _connected(ctx, base_url, token, username, password, outputs=False) as conn:
        listing = _call(
            lambda: conn.client.identities.list(page=page, per_page=per_page, search=search)
        )
    if as_json:
        _print_json(listing, embedded=conn.embedded)
        return
    for ident in listing.identities:
        typer.echo(
            f"{ident.identity_code}\t{ident.name}\t{ident.preprocessing_status}\t{ident.created_at}"
        )
    p = listing.pagination
    typer.echo(f"page {p.page}/{p.pages}, {p.total} identities", err=True)


@identities_app.command("show")
def identities_show(
    ctx: typer.Context,
    code: Code,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """Show one identity as JSON."""
    with _connected(ctx, base_url, token, username, password, outputs=False) as conn:
        _print_json(_call(lambda: conn.client.identities.get(code)), embedded=conn.embedded)


@identities_app.command("upload")
def identities_upload(
    ctx: typer.Context,
    image: Annotated[Path, typer.Argument(help="Identity photo (.jpg/.png) with one face.")],
    name: Annotated[str | None, typer.Option("--name", help="Default: the file's stem.")] = None,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """Upload an identity photo; prints its code (the existing one if already uploaded) once
    the server has prepared it. A photo in which it finds no face is refused and not kept."""
    from vestis.runs.identity import IdentityError, IdentityResolver

    if not image.is_file():
        typer.echo(f"Error: identity image not found: {image}", err=True)
        raise typer.Exit(1)
    with _connected(ctx, base_url, token, username, password) as conn:
        resolver = IdentityResolver(conn.client, None, image, name=name)
        try:
            code = resolver.resolve()
        except IdentityError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from exc
    for line in resolver.advice:  # on stderr: stdout is the code alone, for scripts
        typer.echo(f"Note: {line}", err=True)
    typer.echo(code)


@identities_app.command("add-photo")
def identities_add_photo(
    ctx: typer.Context,
    code: Code,
    image: Annotated[Path, typer.Argument(help="Another photo (.jpg/.png) of the same person.")],
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """Add a photo to an identity; prints the photo's id. Model swaps use, per catalogue
    photo, the identity photo closest to it in expression and head pose (a closed-mouth photo
    beside a grin lets every photo be swapped). No credits."""
    if not image.is_file():
        typer.echo(f"Error: photo not found: {image}", err=True)
        raise typer.Exit(1)
    with _connected(ctx, base_url, token, username, password) as conn:
        added = _call(lambda: conn.client.identities.add_photo(code, image))
    for finding in added.photo_check.findings if added.photo_check else []:
        typer.echo(f"Note: {finding.message}", err=True)
    typer.echo(added.photo_id)


@identities_app.command("photos")
def identities_photos(
    ctx: typer.Context,
    code: Code,
    as_json: AsJson = False,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """List an identity's photos: id, position, file name and what its check found."""
    with _connected(ctx, base_url, token, username, password) as conn:
        listing = _call(lambda: conn.client.identities.photos(code))
    if as_json:
        _print_json(listing, embedded=conn.embedded)
        return
    for photo in listing.photos:
        found = [f.name for f in photo.photo_check.findings] if photo.photo_check else []
        typer.echo(
            f"{photo.photo_id}\t{photo.position}\t{photo.original_filename or ''}\t"
            f"{', '.join(found) or 'clean'}"
        )


@identities_app.command("remove-photo")
def identities_remove_photo(
    ctx: typer.Context,
    code: Code,
    photo_id: Annotated[str, typer.Argument(help="The photo's id (vestis identities photos).")],
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """Remove a photo from an identity (its last photo stays: delete the identity instead)."""
    with _connected(ctx, base_url, token, username, password) as conn:
        _call(lambda: conn.client.identities.remove_photo(code, photo_id))
    typer.echo(f"Removed photo {photo_id} from {code}")


@identities_app.command("delete")
def identities_delete(
    ctx: typer.Context,
    code: Code,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """Delete one of your identities."""
    with _connected(ctx, base_url, token, username, password, outputs=False) as conn:
        _call(lambda: conn.client.identities.delete(code))
    typer.echo(f"Deleted identity {code}")


# --- jobs ----------------------------------------------------------------------------------------


@jobs_app.command("status")
def jobs_status(
    ctx: typer.Context,
    job_id: JobId,
    as_json: AsJson = False,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """A job's status and progress."""
    with _connected(ctx, base_url, token, username, password, outputs=False) as conn:
        status = _call(lambda: conn.client.jobs.status(job_id))
    if as_json:
        _print_json(status)
    else:
        typer.echo(f"Progress: {status.progress:.1f}% - Status: {status.status}")


@jobs_app.command("results")
def jobs_results(
    ctx: typer.Context,
    job_id: JobId,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """The raw results body of a job (what metadata.json holds)."""
    with _connected(ctx, base_url, token, username, password, outputs=False) as conn:
        _print_json(_call(lambda: conn.client.jobs.results_raw(job_id)))


@jobs_app.command("wait")
def jobs_wait(
    ctx: typer.Context,
    job_id: JobId,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds.")] = 1200,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """Wait until the job ends; exit 0 if it completed, 1 otherwise."""
    with _connected(ctx, base_url, token, username, password) as conn:
        try:
            final = conn.client.jobs.wait(
                job_id,
                timeout=timeout,
                on_update=lambda s: typer.echo(f"Progress: {s.progress:.1f}% - Status: {s.status}"),
            )
        except (errors.JobFailedError, errors.JobTimeoutError, errors.VestisError) as exc:
            typer.echo(f"Error: {exc.reason}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"Job finished with status: {final.status}")


@jobs_app.command("download")
def jobs_download(
    ctx: typer.Context,
    job_id: JobId,
    output_folder: Annotated[
        Path,
        typer.Option("--output-folder", "--output-dir", help="Where the images are saved."),
    ] = Path("output"),
    approved: Annotated[
        bool,
        typer.Option(
            "--approved", help="Only the outputs approved in review (the studio, or the API)."
        ),
    ] = False,
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
) -> None:
    """Download a finished job's images and metadata.json (skips files already on disk)."""
    from vestis.runs.context import RunContext
    from vestis.runs.events import Reporter
    from vestis.runs.folder import FolderFailed, FolderRun
    from vestis.runs.identity import IdentityResolver
    from vestis.runs.journal import Journal
    from vestis.runs.spec import RunSpec

    with _connected(ctx, base_url, token, username, password) as conn:
        status = _call(lambda: conn.client.jobs.status(job_id))
        spec = RunSpec(kind="flat") if status.job_type == "flat_2_model" else RunSpec(kind="swap")
        run = RunContext(
            client=conn.client,
            spec=spec,
            reporter=Reporter(),
            identity=IdentityResolver(conn.client, None, None),
        )
        if approved:
            _require_approved(conn, job_id)
        journal = Journal.open(output_folder)
        journal.update_job(job_id=job_id, status=status.status)
        try:
            FolderRun(run, Path("."), output_folder).download(job_id, journal, approved)
        except FolderFailed as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
        finally:
            run.transfers.shutdown()
    typer.echo(f"Results saved to {output_folder}")


def _require_approved(conn: Connection, job_id: str) -> None:
    """`--approved` with nothing approved is a mistake to say, not an empty download: exit 1
    before anything is written."""
    body = _call(lambda: conn.client.jobs.results_raw(job_id))
    results = [r for r in body.get("results") or [] if isinstance(r, dict)]
    if any(r.get("feedback") == "like" for r in results):
        return
    typer.echo(
        f"Error: nothing in job {job_id} is approved yet ({len(results)} output"
        f"{'' if len(results) == 1 else 's'}, none approved): approve outputs in the studio "
        "(`vestis studio`) or through the API first. Nothing was saved.",
        err=True,
    )
    raise typer.Exit(1)


def report(
    output_folder: Annotated[Path, typer.Argument(help="A run's output folder or a batch's.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: <folder>/report.html")
    ] = None,
) -> None:
    """Write the HTML review page of a run's output folder.

    Inputs beside outputs, models, timings, failures and warnings; self-contained (thumbnails
    embedded, full-size files linked relatively)."""
    from vestis.report import write_report

    if not output_folder.is_dir():
        typer.echo(f"Error: output folder not found: {output_folder}", err=True)
        raise typer.Exit(1)
    path = write_report(output_folder, output)
    typer.echo(f"Report written to {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(identities_app, name="identities")
    app.add_typer(jobs_app, name="jobs")
    app.command("report")(report)
