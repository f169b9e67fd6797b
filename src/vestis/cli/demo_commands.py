"""`vestis demo`: the main job end to end on the embedded default, no account, no network.

Builds a small sample catalogue (PDP photos derived from scikit-image's public-domain astronaut
photo, drawn flat-lays, an identity), runs a model-swap batch and a flat-to-model batch on it
through the normal client code path, writes the review page and says where everything is."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer

from vestis.cli import interrupts
from vestis.cli.connection import Credentials, connect
from vestis.cli.interrupts import Interrupted
from vestis.runs.batch import run_batch
from vestis.runs.context import DEFAULT_TRANSFERS, RunContext
from vestis.runs.identity import IdentityResolver
from vestis.runs.progress import make_reporter
from vestis.runs.spec import RunSpec
from vestis.runs.summary import flat_configuration, swap_configuration

#: The demo's embedded server keeps its data beside the demo's outputs, not in the user's
#: library (`vestis data info`): a re-run resumes against it, deleting the folder forgets all.
SERVER_DATA = "server-data"
#: Two looks per flat-lay folder: what a catalogue team would ask for first.
DEMO_INSTRUCTIONS = [
    {
        "pose": "standing front-facing",
        "background": "white studio",
        "options": {"ar": "3:4", "size": "1K", "format": "jpg"},
    },
    {
        "pose": "walking side angle",
        "background": "light grey studio",
        "options": {"ar": "3:4", "size": "1K", "format": "jpg"},
    },
]


def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for everything.")] = Path(
        "vestis-demo"
    ),
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only errors, the summaries and where to look.")
    ] = False,
    json_events: Annotated[
        bool,
        typer.Option("--json", help="Machine-readable events, one JSON object per line on stdout."),
    ] = False,
) -> None:
    """Run the whole job on a sample catalogue: no account, no network.

    Builds a sample catalogue, runs model swap and flat-to-model on it with the embedded server
    and the local engine, and writes the review page."""
    from vestis.report import write_report
    from vestis.runs.samples import write_sample_catalogue

    reporter = make_reporter(json_mode=json_events, quiet=quiet, verbose=False, batch=True)
    catalogue = write_sample_catalogue(output / "catalogue")
    instructions_file = output / "catalogue" / "instructions.json"
    instructions_file.write_text(json.dumps(DEMO_INSTRUCTIONS, indent=2), encoding="utf-8")
    reporter.event("info", message=f"Sample catalogue written to {catalogue.root}")
    identity = catalogue.identities[0]
    codes: list[int] = []
    transfers = ThreadPoolExecutor(DEFAULT_TRANSFERS, "vestis-transfer")
    try:
        with connect(
            Credentials(),
            announce=lambda m: reporter.event("info", message=m),
            data_dir=output / SERVER_DATA,
        ) as conn:
            for spec, folders, target in (
                (
                    RunSpec(kind="swap", identity_image=identity),
                    catalogue.pdp_folders,
                    output / "model-swap",
                ),
                (
                    RunSpec(
                        kind="flat",
                        identity_image=identity,
                        instructions=DEMO_INSTRUCTIONS,
                        instructions_file=instructions_file,
                    ),
                    catalogue.flat_folders,
                    output / "flat-to-model",
                ),
            ):
                run = RunContext(
                    client=conn.client,
                    spec=spec,
                    reporter=reporter,
                    transfers=transfers,
                    identity=IdentityResolver(conn.client, None, identity),
                    base_url=conn.base_url,
                )
                config = (
                    swap_configuration(
                        parallel=2,
                        post_process=False,
                        model="auto",
                        use_anchor=False,
                        base_url=conn.base_url,
                        identity_code=None,
                        identity_image=str(identity),
                    )
                    if spec.kind == "swap"
                    else flat_configuration(
                        parallel=2,
                        model="auto",
                        enhance_consistency=True,
                        barefoot=False,
                        base_url=conn.base_url,
                        identity_code=None,
                        identity_image=str(identity),
                        instructions_file=str(instructions_file),
                    )
                )
                try:
                    codes.append(run_batch(run, folders, target, 2, config))
                except Interrupted:
                    interrupts.stop_run(reporter)
    except Interrupted:  # during start-up
        interrupts.stop_run(reporter)
    finally:
        transfers.shutdown()
        reporter.close()
    page = write_report(output)
    typer.echo(
        "\n".join(
            [
                "",
                f"Model swap outputs:    {output / 'model-swap'}",
                f"Flat-to-model outputs: {output / 'flat-to-model'}",
                f"Review page:           {page}",
                f"Server data:           {output / SERVER_DATA} (the demo's own; delete "
                f"{output} to start afresh)",
                "",
                "The sample identity is the photos' own model, mirrored and warmed (no other",
                "public-domain portrait without glasses ships with the packages), so the swaps",
                "re-render her face and say 'not the identity'. To see another face, use a photo",
                "of your own: vestis model-swap --input-folder "
                f"{output / 'catalogue' / 'pdp' / 'ARTICLE-001'} --identity-image YOUR_PHOTO.jpg",
            ]
        )
    )
    raise typer.Exit(max(codes) if codes else 1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
