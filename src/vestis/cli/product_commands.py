"""`vestis create-packshot | batch-create-packshot | garment-recolor | batch-garment-recolor`: the
public create-packshot and garment-recolor scripts' command lines (same flags, output layout,
metadata.json and batch summary) on the run machinery of model swap (resume, pacing, progress,
--json, --dry-run); and `vestis identities create | promote` (create_identity.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from vestis.cli import options as o
from vestis.cli.connection import Credentials
from vestis.cli.run_commands import (
    EXTRA_ARGS,
    ImageNotes,
    InputDir,
    InputFolder,
    InputFolders,
    OutputDir,
    OutputFolder,
    _batch_folders,
    _check_folder,
    _dry_run,
    _execute,
    _no_extras,
    _reporter,
)
from vestis.cli.usage import usage_error
from vestis.runs.batch import run_batch, run_single
from vestis.runs.context import RunContext
from vestis.runs.events import Reporter
from vestis.runs.instructions import InstructionsError, load_instructions_file
from vestis.runs.pacing import DEFAULT_JOBS_PER_MINUTE
from vestis.runs.spec import RunSpec, clamp_parallel
from vestis.runs.summary import packshot_configuration, recolor_configuration

PACKSHOT = "Instructions (create-packshot)"
RECOLOR = "Recolour target (at least one)"

Style = Annotated[
    Literal["flat_lay", "ghost_mannequin", "marketing_ready", "white_cutout", "free"],
    typer.Option("--style", rich_help_panel=PACKSHOT, help="Packshot style."),
]
Framing = Annotated[
    Literal["square_packshot", "tall_3_4", "wide_4_3", "full_frame"] | None,
    typer.Option("--framing", rich_help_panel=PACKSHOT, help="How the garment fills the canvas."),
]
Angle = Annotated[
    Literal["front", "back", "three_quarter", "top_down", "detail_macro"] | None,
    typer.Option("--angle", rich_help_panel=PACKSHOT, help="View angle (flat_lay: top_down)."),
]
Shadow = Annotated[
    Literal["auto", "none", "contact", "soft_drop", "natural"] | None,
    typer.Option("--shadow", rich_help_panel=PACKSHOT, help="Shadow treatment."),
]
Surface = Annotated[
    str | None,
    typer.Option("--surface", rich_help_panel=PACKSHOT, help="Surface (flat_lay), e.g. linen."),
]
PackshotVariations = Annotated[
    int,
    typer.Option("--num-variations", rich_help_panel=PACKSHOT, help="Variations (1-8)."),
]
PackshotModel = Annotated[
    Literal["auto", "nano_banana_pro", "seedream"],
    typer.Option("--model", help="Generation engine of the hosted API."),
]
AnchorIndex = Annotated[
    int, typer.Option("--anchor-index", help="The instruction --use-anchor aligns to.")
]
PackshotAnchor = Annotated[
    bool, typer.Option("--use-anchor", help="Align every output to one instruction (off).")
]
GarmentLabel = Annotated[
    str | None,
    typer.Option("--garment-label", rich_help_panel=RECOLOR, help="e.g. t-shirt, jeans."),
]
ReferenceImage = Annotated[
    Path | None,
    typer.Option("--reference-image", rich_help_panel=RECOLOR, help="Colour/pattern reference."),
]
ReferenceText = Annotated[
    str | None,
    typer.Option("--reference-text", rich_help_panel=RECOLOR, help="A hex code or a colour name."),
]
RecolorInstruction = Annotated[
    str | None,
    typer.Option("--instruction", rich_help_panel=RECOLOR, help="e.g. 'make it forest green'."),
]
RecolorVariations = Annotated[
    int, typer.Option("--num-variations", help="Variations per input image (1-8).")
]
ProcessingSize = Annotated[
    int,
    typer.Option("--processing-size", help="1024 | 2048 | 4096: 3 / 5 / 10 credits per output."),
]
RecolorModel = Annotated[
    Literal["auto", "nano_banana_2", "nano_banana_pro", "seedream", "gpt_image"],
    typer.Option("--model", help="Generation engine of the hosted API."),
]
NoUseAnchor = Annotated[bool, typer.Option("--no-use-anchor", help="No cross-output consistency.")]
NoPostProcess = Annotated[bool, typer.Option("--no-post-process", help="No finishing pass.")]
AiWatermark = Annotated[
    bool, typer.Option("--add-ai-watermark", help="Bake an 'AI-generated' mark into outputs.")
]


def packshot_instructions(
    reporter: Reporter, instruction: dict[str, Any], path: Path | None
) -> list[Any]:
    """The instructions file (it overrides the flags), or one instruction from the flags, as
    create_packshot.py builds it (only the flags given, num_variations when above 1)."""
    if path is None:
        return [instruction]
    try:
        instructions = load_instructions_file(path)
    except InstructionsError as exc:
        reporter.event("error", message=str(exc))
        reporter.close()
        raise typer.Exit(1) from exc
    reporter.event("info", message=f"Loaded {len(instructions)} instructions from {path.name}")
    return instructions


def simple_packshot(
    style: str, prompt: str | None, background: str | None, framing: str | None,
    angle: str | None, shadow: str | None, surface: str | None, num_variations: int,
    size: str | None, aspect_ratio: str | None, fmt: str | None, seed: int | None,
) -> dict[str, Any]:  # fmt: skip
    instruction: dict[str, Any] = {"style": style}
    fields = {"prompt": prompt, "background": background, "framing": framing, "angle": angle,
              "shadow": shadow, "surface": surface}  # fmt: skip
    instruction.update({k: v for k, v in fields.items() if v})
    if seed is not None:
        instruction["seed"] = seed
    if num_variations > 1:
        instruction["num_variations"] = num_variations
    options = {k: v for k, v in (("size", size), ("ar", aspect_ratio), ("format", fmt)) if v}
    if options:
        instruction["options"] = options
    return instruction


def recolor_fields(
    ctx: typer.Context, garment_label: str | None, reference_image: Path | None,
    reference_text: str | None, instruction: str | None, num_variations: int,
    processing_size: int, model: str, no_use_anchor: bool, no_post_process: bool,
    add_ai_watermark: bool,
) -> dict[str, Any]:  # fmt: skip
    """The job's flat fields in garment_recolor.py's order; its rule: a target is required."""
    if reference_image is None and not reference_text and not instruction:
        usage_error(
            ctx,
            "Provide at least one recolor target: --reference-image, --reference-text, or "
            "--instruction",
        )
    if processing_size not in (1024, 2048, 4096):
        usage_error(ctx, f"--processing-size must be 1024, 2048 or 4096, not {processing_size}")
    if reference_image is not None and not reference_image.is_file():
        typer.echo(f"Reference image not found: {reference_image}", err=True)
        raise typer.Exit(1)
    body: dict[str, Any] = {
        "num_variations": num_variations,
        "model": model,
        "processing_size": processing_size,
        "post_process": not no_post_process,
        "use_anchor": not no_use_anchor,
        "add_ai_watermark": add_ai_watermark,
    }
    targets = {"garment_label": garment_label, "reference_text": reference_text,
               "instruction": instruction}  # fmt: skip
    body.update({k: v for k, v in targets.items() if v})
    return body


def create_packshot(
    ctx: typer.Context,
    input_folder: InputFolder,
    output_folder: OutputFolder = Path("output"),
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
    style: Style = "ghost_mannequin",
    prompt: o.Prompt = None,
    background: o.Background = None,
    framing: Framing = None,
    angle: Angle = None,
    shadow: Shadow = None,
    surface: Surface = None,
    num_variations: PackshotVariations = 1,
    size: o.Size = None,
    aspect_ratio: o.AspectRatio = None,
    fmt: o.Format = None,
    seed: o.Seed = None,
    instructions_file: o.InstructionsFile = None,
    image_notes: ImageNotes = None,
    model: PackshotModel = "auto",
    use_anchor: PackshotAnchor = False,
    anchor_index: AnchorIndex = 0,
    post_process: o.PostProcess = False,
    jobs_per_minute: o.JobsPerMinute = DEFAULT_JOBS_PER_MINUTE,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
    json_events: o.JsonEvents = False,
    dry_run: o.DryRun = False,
    allow_partial: o.AllowPartial = False,
) -> None:
    """Packshots of the garment photographed in one folder (1 to 10 photos), one output per
    instruction and variation: output_<instruction>_<variation>_v<version>.<format>."""
    if image_notes is None:
        _no_extras(ctx)
    notes = [*image_notes, *ctx.args] if image_notes is not None else None
    creds = Credentials(base_url, token, username, password)
    creds.validate(ctx)
    reporter = _reporter(json_events, quiet, verbose, batch=False)
    simple = simple_packshot(style, prompt, background, framing, angle, shadow, surface,
                             num_variations, size, aspect_ratio, fmt, seed)  # fmt: skip
    spec = RunSpec(
        kind="packshot",
        model=model,
        instructions=packshot_instructions(reporter, simple, instructions_file),
        instructions_file=instructions_file,
        image_notes=notes,
        use_anchor=use_anchor,
        anchor_index=anchor_index,
        post_process=post_process,
    )
    if dry_run:
        _dry_run(reporter, creds, spec, [(input_folder, output_folder)])
    _check_folder(reporter, creds, spec, input_folder, allow_partial)
    _execute(reporter, creds, spec, jobs_per_minute,
             lambda run: run_single(run, input_folder, output_folder), allow_partial)  # fmt: skip


def batch_create_packshot(
    ctx: typer.Context,
    input_dir: InputDir = None,
    input_folders: InputFolders = None,
    output_dir: OutputDir = Path("output"),
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
    parallel: o.Parallel = 3,
    style: Style = "ghost_mannequin",
    prompt: o.Prompt = None,
    background: o.Background = None,
    framing: Framing = None,
    angle: Angle = None,
    shadow: Shadow = None,
    surface: Surface = None,
    num_variations: PackshotVariations = 1,
    size: o.Size = None,
    aspect_ratio: o.AspectRatio = None,
    fmt: o.Format = None,
    seed: o.Seed = None,
    instructions_file: o.InstructionsFile = None,
    image_notes: ImageNotes = None,
    model: PackshotModel = "auto",
    use_anchor: PackshotAnchor = False,
    anchor_index: AnchorIndex = 0,
    post_process: o.PostProcess = False,
    jobs_per_minute: o.JobsPerMinute = DEFAULT_JOBS_PER_MINUTE,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
    json_events: o.JsonEvents = False,
    dry_run: o.DryRun = False,
    allow_partial: o.AllowPartial = False,
) -> None:
    """create-packshot on many garment folders (every subfolder of --input-dir, or
    --input-folders A B C) into <output-dir>/<folder>/, with a batch summary. --image-notes
    apply to every folder: note i to its i-th photo (sorted by name), "" for none."""
    reporter = _reporter(json_events, quiet, verbose, batch=True)
    folders = _batch_folders(reporter, ctx, input_dir, input_folders)
    creds = Credentials(base_url, token, username, password)
    creds.validate(ctx)
    parallel = clamp_parallel(parallel)
    simple = simple_packshot(style, prompt, background, framing, angle, shadow, surface,
                             num_variations, size, aspect_ratio, fmt, seed)  # fmt: skip
    spec = RunSpec(
        kind="packshot",
        model=model,
        instructions=packshot_instructions(reporter, simple, instructions_file),
        instructions_file=instructions_file,
        image_notes=image_notes,
        use_anchor=use_anchor,
        anchor_index=anchor_index,
        post_process=post_process,
    )
    if dry_run:
        _dry_run(reporter, creds, spec, [(f, output_dir / f.name) for f in folders])

    def work(run: RunContext) -> int:
        config = packshot_configuration(
            parallel=parallel, model=model, style=style, use_anchor=use_anchor,
            anchor_index=anchor_index, post_process=post_process, base_url=run.base_url,
            instructions_file=str(instructions_file) if instructions_file else None,
        )  # fmt: skip
        return run_batch(run, folders, output_dir, parallel, config)

    _execute(reporter, creds, spec, jobs_per_minute, work, allow_partial)


def garment_recolor(
    ctx: typer.Context,
    input_folder: InputFolder,
    output_folder: OutputFolder = Path("output"),
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
    garment_label: GarmentLabel = None,
    reference_image: ReferenceImage = None,
    reference_text: ReferenceText = None,
    instruction: RecolorInstruction = None,
    num_variations: RecolorVariations = 1,
    processing_size: ProcessingSize = 2048,
    model: RecolorModel = "auto",
    no_use_anchor: NoUseAnchor = False,
    no_post_process: NoPostProcess = False,
    add_ai_watermark: AiWatermark = False,
    jobs_per_minute: o.JobsPerMinute = DEFAULT_JOBS_PER_MINUTE,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
    json_events: o.JsonEvents = False,
    dry_run: o.DryRun = False,
    allow_partial: o.AllowPartial = False,
) -> None:
    """Recolour the garment in every image of one folder (1 to 10): output_<input>_<variation>
    _v<version>.<format>; everything outside the garment is kept."""
    _no_extras(ctx)
    fields = recolor_fields(ctx, garment_label, reference_image, reference_text, instruction,
                            num_variations, processing_size, model, no_use_anchor,
                            no_post_process, add_ai_watermark)  # fmt: skip
    creds = Credentials(base_url, token, username, password)
    creds.validate(ctx)
    reporter = _reporter(json_events, quiet, verbose, batch=False)
    spec = RunSpec(kind="recolor", model=model, recolor=fields, reference_image=reference_image)
    if dry_run:
        _dry_run(reporter, creds, spec, [(input_folder, output_folder)])
    _check_folder(reporter, creds, spec, input_folder, allow_partial)
    _execute(reporter, creds, spec, jobs_per_minute,
             lambda run: run_single(run, input_folder, output_folder), allow_partial)  # fmt: skip


def batch_garment_recolor(
    ctx: typer.Context,
    input_dir: InputDir = None,
    input_folders: InputFolders = None,
    output_dir: OutputDir = Path("output"),
    base_url: o.BaseUrl = None,
    token: o.Token = None,
    username: o.Username = None,
    password: o.Password = None,
    parallel: o.Parallel = 3,
    garment_label: GarmentLabel = None,
    reference_image: ReferenceImage = None,
    reference_text: ReferenceText = None,
    instruction: RecolorInstruction = None,
    num_variations: RecolorVariations = 1,
    processing_size: ProcessingSize = 2048,
    model: RecolorModel = "auto",
    no_use_anchor: NoUseAnchor = False,
    no_post_process: NoPostProcess = False,
    add_ai_watermark: AiWatermark = False,
    jobs_per_minute: o.JobsPerMinute = DEFAULT_JOBS_PER_MINUTE,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
    json_events: o.JsonEvents = False,
    dry_run: o.DryRun = False,
    allow_partial: o.AllowPartial = False,
) -> None:
    """garment-recolor on many folders, the same target for all, with a batch summary."""
    fields = recolor_fields(ctx, garment_label, reference_image, reference_text, instruction,
                            num_variations, processing_size, model, no_use_anchor,
                            no_post_process, add_ai_watermark)  # fmt: skip
    reporter = _reporter(json_events, quiet, verbose, batch=True)
    folders = _batch_folders(reporter, ctx, input_dir, input_folders)
    creds = Credentials(base_url, token, username, password)
    creds.validate(ctx)
    parallel = clamp_parallel(parallel)
    spec = RunSpec(kind="recolor", model=model, recolor=fields, reference_image=reference_image)
    if dry_run:
        _dry_run(reporter, creds, spec, [(f, output_dir / f.name) for f in folders])

    def work(run: RunContext) -> int:
        config = recolor_configuration(
            parallel=parallel, recolor=fields, base_url=run.base_url,
            reference_image=str(reference_image) if reference_image else None,
        )  # fmt: skip
        return run_batch(run, folders, output_dir, parallel, config)

    _execute(reporter, creds, spec, jobs_per_minute, work, allow_partial)


def register(app: typer.Typer) -> None:
    from vestis.cli import identity_commands

    app.command("create-packshot", context_settings=EXTRA_ARGS)(create_packshot)
    app.command("batch-create-packshot", context_settings=EXTRA_ARGS)(batch_create_packshot)
    app.command("garment-recolor", context_settings=EXTRA_ARGS)(garment_recolor)
    app.command("batch-garment-recolor", context_settings=EXTRA_ARGS)(batch_garment_recolor)
    identity_commands.register()
