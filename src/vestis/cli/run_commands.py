"""`vestis model-swap | flat-to-model | batch-swap | batch-flat2model`: the four reference
scripts' command lines (spec §4.1, §4.2, §5.1) plus resume, pacing, progress and --dry-run."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer

from vestis.cli import fashn_run, interrupts
from vestis.cli import options as o
from vestis.cli.connection import Credentials, connect
from vestis.cli.interrupts import Interrupted
from vestis.cli.usage import usage_error
from vestis.runs.batch import list_input_dir, run_batch, run_single
from vestis.runs.context import DEFAULT_TRANSFERS, RunContext
from vestis.runs.dryrun import as_event, describe, plan_folder
from vestis.runs.events import Reporter
from vestis.runs.folder import FolderFailed, scan_folder
from vestis.runs.identity import IdentityError, IdentityResolver
from vestis.runs.instructions import InstructionsError, SimpleInstruction, build_instructions
from vestis.runs.pacing import DEFAULT_JOBS_PER_MINUTE, SubmissionPacer
from vestis.runs.progress import make_reporter
from vestis.runs.spec import RunSpec, clamp_parallel
from vestis.runs.summary import flat_configuration, swap_configuration

#: nargs="+" options (`--input-folders A B C`, `--image-notes "x" "y"`): click has no such
#: options, so the values after the first arrive as extra arguments and are appended.
EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": False}

IDENTITY_RULE = "Either --identity-code or --identity-image must be provided"


def _require_identity(ctx: typer.Context, code: str | None, image: Path | None) -> None:
    if not code and image is None:
        usage_error(ctx, IDENTITY_RULE)


def _no_extras(ctx: typer.Context) -> None:
    if ctx.args:
        usage_error(ctx, f"Got unexpected extra arguments ({' '.join(ctx.args)})")


def _execute(
    reporter: Reporter,
    creds: Credentials,
    spec: RunSpec,
    jobs_per_minute: int,
    work: Callable[[RunContext], int],
    allow_partial: bool = False,
) -> None:
    """Connect, check the identity, run `work`, exit with its code."""
    pacer = SubmissionPacer(jobs_per_minute)
    holder: dict[str, RunContext] = {}

    def on_retry(retry: int, wait: float, reason: str) -> None:
        if "ctx" in holder:
            holder["ctx"].on_retry(retry, wait, reason)

    code = 1
    transfers = ThreadPoolExecutor(DEFAULT_TRANSFERS, "vestis-transfer")
    try:
        with connect(
            creds, on_retry=on_retry, announce=lambda m: reporter.event("info", message=m)
        ) as conn:
            if conn.embedded:
                pacer = SubmissionPacer(0)
            ctx = RunContext(
                client=conn.client,
                spec=spec,
                reporter=reporter,
                identity=IdentityResolver(conn.client, spec.identity_code, spec.identity_image),
                pacer=pacer,
                transfers=transfers,
                base_url=conn.base_url,
                allow_partial=allow_partial,
                outfit_rule=creds.local_engine,
            )
            holder["ctx"] = ctx
            try:
                code = _identity_first(ctx) or work(ctx)
            except Interrupted:
                # Caught here, inside the connection: leaving it would first stop the embedded
                # server and wait for requests in flight.
                interrupts.stop_run(reporter)
    except Interrupted:  # during start-up
        interrupts.stop_run(reporter)
    finally:
        transfers.shutdown(wait=False, cancel_futures=True)
        reporter.close()
    raise typer.Exit(code)


def _identity_first(ctx: RunContext) -> int:
    """Resolve (and check) the identity before any folder uploads a photo: a wrong code, a
    photo without a face, a refused token or an unreachable server end the run here, in one
    line. 0 when the run may go on, else the exit code."""
    if not ctx.spec.needs_identity:
        return 0
    try:
        code = ctx.identity.resolve()
    except IdentityError as exc:
        ctx.reporter.event("error", message=str(exc))
        return 1
    if ctx.identity.message:
        ctx.reporter.event("identity", message=ctx.identity.message, code=code)
    return 0


def _check_folder(
    reporter: Reporter, creds: Credentials, spec: RunSpec, folder: Path, allow_partial: bool
) -> None:
    """What one folder's run can find wrong locally, all of it, before connecting (exit 1)."""
    problems: list[str] = []
    image = spec.identity_image
    if not spec.identity_code and image is not None and not image.is_file():
        problems.append(f"Identity image not found: {image}")
    try:
        scan_folder(folder, spec.kind, allow_partial=allow_partial, outfit_rule=creds.local_engine)
    except FolderFailed as exc:
        problems.append(str(exc))
    for problem in problems:
        reporter.event("error", message=problem)
    if problems:
        reporter.close()
        raise typer.Exit(1)


def _dry_run(
    reporter: Reporter, creds: Credentials, spec: RunSpec, pairs: list[tuple[Path, Path]]
) -> None:
    plans = [plan_folder(spec, folder, output, creds.local_engine) for folder, output in pairs]
    if reporter.machine_readable:
        reporter.event("dry_run", **as_event(plans))
    else:
        reporter.write(
            "\n".join(["Dry run: nothing is uploaded or submitted.", *describe(plans, spec)])
        )
    reporter.close()
    raise typer.Exit(0)


def _flat_instructions(
    reporter: Reporter, simple: SimpleInstruction, path: Path | None
) -> list[Any]:
    try:
        instructions = build_instructions(simple, path)
    except InstructionsError as exc:
        reporter.event("error", message=str(exc))
        reporter.close()
        raise typer.Exit(1) from exc
    if path is not None:
        reporter.event("info", message=f"Loaded {len(instructions)} instructions from {path.name}")
    return instructions


def _batch_folders(
    reporter: Reporter, ctx: typer.Context, input_dir: Path | None, input_folders: list[Path] | None
) -> list[Path]:
    """--input-dir / --input-folders (required, mutually exclusive); the reference's checks."""
    extras = [Path(arg) for arg in ctx.args]
    if input_folders is None and extras:
        usage_error(ctx, f"Got unexpected extra arguments ({' '.join(ctx.args)})")
    if input_dir is not None and input_folders is not None:
        usage_error(ctx, "argument --input-folders: not allowed with argument --input-dir")
    if input_dir is None and input_folders is None:
        usage_error(ctx, "one of the arguments --input-dir --input-folders is required")
    if input_dir is not None:
        if not input_dir.is_dir():
            reporter.event("error", message=f"Input directory not found: {input_dir}")
            raise typer.Exit(1)
        folders = list_input_dir(input_dir)
    else:
        folders = [*(input_folders or []), *extras]
        missing = [f for f in folders if not f.is_dir()]
        for folder in missing:
            reporter.event("error", message=f"Folder not found: {folder}")
        if missing:
            raise typer.Exit(1)
    if not folders:
        reporter.event("error", message="No folders to process")
        raise typer.Exit(1)
    return folders


def _reporter(json_mode: bool, quiet: bool, verbose: bool, batch: bool) -> Reporter:
    return make_reporter(json_mode=json_mode, quiet=quiet, verbose=verbose, batch=batch)


OutputFolder = Annotated[
    Path, typer.Option("--output-folder", "--output-dir", help="Output folder for results.")
]
OutputDir = Annotated[
    Path, typer.Option("--output-dir", "--output-folder", help="Base output directory.")
]
InputFolder = Annotated[
    Path, typer.Option("--input-folder", help="Folder of images (required).", show_default=False)
]
InputDir = Annotated[
    Path | None,
    typer.Option("--input-dir", help="Directory of folders (exclusive with --input-folders)."),
]
InputFolders = Annotated[
    list[Path] | None,
    typer.Option("--input-folders", help="Folders to process: --input-folders A B C."),
]
ImageNotes = Annotated[
    list[str] | None,
    typer.Option(
        "--image-notes",
        help="A styling note per image, in file order: --image-notes 'tucked in' '' 'open zip'.",
    ),
]


def model_swap(
    ctx: typer.Context,
    input_folder: InputFolder,
    identity_code: o.IdentityCode = None,
    identity_image: o.IdentityImage = None,
    output_folder: OutputFolder = Path("output"),
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
    post_process: o.PostProcess = False,
    model: o.SwapModel = "auto",
    use_anchor: o.UseAnchor = False,
    jobs_per_minute: o.JobsPerMinute = DEFAULT_JOBS_PER_MINUTE,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
    json_events: o.JsonEvents = False,
    dry_run: o.DryRun = False,
    allow_partial: o.AllowPartial = False,
    provider: fashn_run.Provider = "onmodel",
    face_reference: fashn_run.FaceReferenceOption = None,
    face_reference_mode: fashn_run.FaceReferenceMode = "match_reference",
    num_images: fashn_run.NumImages = 1,
) -> None:
    """Swap the model in every PDP photo of one folder for the chosen identity."""
    _no_extras(ctx)
    if provider == "fashn":
        fashn = fashn_run.FashnArgs(
            base_url, token, username, password, identity_code, identity_image,
            face_reference, face_reference_mode, num_images,
        )  # fmt: skip
        fashn_run.execute(
            ctx,
            _reporter(json_events, quiet, verbose, batch=False),
            fashn,
            jobs_per_minute,
            lambda run, runner: run_single(run, input_folder, output_folder, runner),
            [(input_folder, output_folder)],
            dry_run,
            allow_partial,
        )
    _require_identity(ctx, identity_code, identity_image)
    creds = Credentials(base_url, token, username, password)
    creds.validate(ctx)
    spec = RunSpec(
        kind="swap",
        identity_code=identity_code,
        identity_image=identity_image,
        model=model,
        post_process=post_process,
        use_anchor=use_anchor,
    )
    reporter = _reporter(json_events, quiet, verbose, batch=False)
    if dry_run:
        _dry_run(reporter, creds, spec, [(input_folder, output_folder)])
    _check_folder(reporter, creds, spec, input_folder, allow_partial)
    _execute(
        reporter,
        creds,
        spec,
        jobs_per_minute,
        lambda run: run_single(run, input_folder, output_folder),
        allow_partial,
    )


def flat_to_model(
    ctx: typer.Context,
    input_folder: InputFolder,
    identity_code: o.IdentityCode = None,
    identity_image: o.IdentityImage = None,
    output_folder: OutputFolder = Path("output"),
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
    prompt: o.Prompt = None,
    pose: o.Pose = None,
    background: o.Background = None,
    num_variations: o.NumVariations = 1,
    size: o.Size = None,
    aspect_ratio: o.AspectRatio = None,
    fmt: o.Format = None,
    seed: o.Seed = None,
    instructions_file: o.InstructionsFile = None,
    image_notes: ImageNotes = None,
    model: o.FlatModel = "auto",
    no_consistency: o.NoConsistency = False,
    barefoot: o.Barefoot = False,
    jobs_per_minute: o.JobsPerMinute = DEFAULT_JOBS_PER_MINUTE,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
    json_events: o.JsonEvents = False,
    dry_run: o.DryRun = False,
    allow_partial: o.AllowPartial = False,
) -> None:
    """Turn the flat-lay photos of one folder into on-model photos, one per instruction.

    One folder is one outfit worn together: every output dresses one body in all of the
    folder's garments (several photos of one garment are fine). For several outfits, make
    several folders (batch-flat2model runs them all)."""
    if image_notes is None:
        _no_extras(ctx)
    notes = [*image_notes, *ctx.args] if image_notes is not None else None
    _require_identity(ctx, identity_code, identity_image)
    creds = Credentials(base_url, token, username, password)
    creds.validate(ctx)
    reporter = _reporter(json_events, quiet, verbose, batch=False)
    simple = SimpleInstruction(
        prompt, pose, background, num_variations, size, aspect_ratio, fmt, seed
    )
    instructions = _flat_instructions(reporter, simple, instructions_file)
    spec = RunSpec(
        kind="flat",
        identity_code=identity_code,
        identity_image=identity_image,
        model=model,
        instructions=instructions,
        instructions_file=instructions_file,
        image_notes=notes,
        enhance_consistency=not no_consistency,
        barefoot=barefoot,
    )
    if dry_run:
        _dry_run(reporter, creds, spec, [(input_folder, output_folder)])
    _check_folder(reporter, creds, spec, input_folder, allow_partial)
    _execute(
        reporter,
        creds,
        spec,
        jobs_per_minute,
        lambda run: run_single(run, input_folder, output_folder),
        allow_partial,
    )


def batch_swap(
    ctx: typer.Context,
    input_dir: InputDir = None,
    input_folders: InputFolders = None,
    identity_code: o.IdentityCode = None,
    identity_image: o.IdentityImage = None,
    output_dir: OutputDir = Path("output"),
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
    post_process: o.PostProcess = False,
    model: o.SwapModel = "auto",
    use_anchor: o.UseAnchor = False,
    parallel: o.Parallel = 3,
    jobs_per_minute: o.JobsPerMinute = DEFAULT_JOBS_PER_MINUTE,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
    json_events: o.JsonEvents = False,
    dry_run: o.DryRun = False,
    allow_partial: o.AllowPartial = False,
    provider: fashn_run.Provider = "onmodel",
    face_reference: fashn_run.FaceReferenceOption = None,
    face_reference_mode: fashn_run.FaceReferenceMode = "match_reference",
    num_images: fashn_run.NumImages = 1,
) -> None:
    """Model swap on many folders: every subfolder of --input-dir, or --input-folders A B C."""
    reporter = _reporter(json_events, quiet, verbose, batch=True)
    folders = _batch_folders(reporter, ctx, input_dir, input_folders)
    if provider == "fashn":
        fashn = fashn_run.FashnArgs(
            base_url, token, username, password, identity_code, identity_image,
            face_reference, face_reference_mode, num_images,
        )  # fmt: skip
        fashn_run.execute(
            ctx,
            reporter,
            fashn,
            jobs_per_minute,
            lambda run, runner: run_batch(
                run,
                folders,
                output_dir,
                clamp_parallel(parallel),
                fashn_run.configuration(fashn, clamp_parallel(parallel), run.base_url),
                runner,
            ),  # fmt: skip
            [(f, output_dir / f.name) for f in folders],
            dry_run,
            allow_partial,
        )
    _require_identity(ctx, identity_code, identity_image)
    creds = Credentials(base_url, token, username, password)
    creds.validate(ctx)
    parallel = clamp_parallel(parallel)
    spec = RunSpec(
        kind="swap",
        identity_code=identity_code,
        identity_image=identity_image,
        model=model,
        post_process=post_process,
        use_anchor=use_anchor,
    )
    if dry_run:
        _dry_run(reporter, creds, spec, [(f, output_dir / f.name) for f in folders])

    def work(run: RunContext) -> int:
        config = swap_configuration(
            parallel=parallel,
            post_process=post_process,
            model=model,
            use_anchor=use_anchor,
            base_url=run.base_url,
            identity_code=identity_code,
            identity_image=str(identity_image) if identity_image else None,
        )
        return run_batch(run, folders, output_dir, parallel, config)

    _execute(reporter, creds, spec, jobs_per_minute, work, allow_partial)


def batch_flat2model(
    ctx: typer.Context,
    input_dir: InputDir = None,
    input_folders: InputFolders = None,
    identity_code: o.IdentityCode = None,
    identity_image: o.IdentityImage = None,
    output_dir: OutputDir = Path("output"),
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
    prompt: o.Prompt = None,
    pose: o.Pose = None,
    background: o.Background = None,
    num_variations: o.NumVariations = 1,
    size: o.Size = None,
    aspect_ratio: o.AspectRatio = None,
    fmt: o.Format = None,
    seed: o.Seed = None,
    instructions_file: o.InstructionsFile = None,
    model: o.FlatModel = "auto",
    no_consistency: o.NoConsistency = False,
    barefoot: o.Barefoot = False,
    parallel: o.Parallel = 3,
    jobs_per_minute: o.JobsPerMinute = DEFAULT_JOBS_PER_MINUTE,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
    json_events: o.JsonEvents = False,
    dry_run: o.DryRun = False,
    allow_partial: o.AllowPartial = False,
) -> None:
    """Flat-to-model on many folders, the same instructions for every folder.

    Each folder is one outfit worn together: every output dresses one body in all of its
    garments (several photos of one garment are fine)."""
    reporter = _reporter(json_events, quiet, verbose, batch=True)
    folders = _batch_folders(reporter, ctx, input_dir, input_folders)
    _require_identity(ctx, identity_code, identity_image)
    creds = Credentials(base_url, token, username, password)
    creds.validate(ctx)
    parallel = clamp_parallel(parallel)
    simple = SimpleInstruction(
        prompt, pose, background, num_variations, size, aspect_ratio, fmt, seed
    )
    instructions = _flat_instructions(reporter, simple, instructions_file)
    spec = RunSpec(
        kind="flat",
        identity_code=identity_code,
        identity_image=identity_image,
        model=model,
        instructions=instructions,
        instructions_file=instructions_file,
        enhance_consistency=not no_consistency,
        barefoot=barefoot,
    )
    if dry_run:
        _dry_run(reporter, creds, spec, [(f, output_dir / f.name) for f in folders])

    def work(run: RunContext) -> int:
        config = flat_configuration(
            parallel=parallel,
            model=model,
            enhance_consistency=not no_consistency,
            barefoot=barefoot,
            base_url=run.base_url,
            identity_code=identity_code,
            identity_image=str(identity_image) if identity_image else None,
            instructions_file=str(instructions_file) if instructions_file else None,
        )
        return run_batch(run, folders, output_dir, parallel, config)

    _execute(reporter, creds, spec, jobs_per_minute, work, allow_partial)


def register(app: typer.Typer) -> None:
    app.command("model-swap", context_settings=EXTRA_ARGS)(model_swap)
    app.command("flat-to-model", context_settings=EXTRA_ARGS)(flat_to_model)
    app.command("batch-swap", context_settings=EXTRA_ARGS)(batch_swap)
    app.command("batch-flat2model", context_settings=EXTRA_ARGS)(batch_flat2model)
