"""Option declarations shared by the run commands (one place for names, defaults and help)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

CONNECTION = "Connection (all optional: no base URL and no credentials = embedded server)"
OUTPUT = "Output"
INSTRUCTIONS = "Instructions (flat-to-model)"

IdentityCode = Annotated[
    str | None, typer.Option("--identity-code", help="Existing identity code to use.")
]
IdentityImage = Annotated[
    Path | None,
    typer.Option("--identity-image", help="Identity image to upload (fallback after the code)."),
]


def http_url(value: str | None) -> str | None:
    """A base URL must name its scheme: `localhost:8000` would otherwise fail deep in the
    client, after the run had started, with a traceback."""
    if value and not value.strip().lower().startswith(("http://", "https://")):
        raise typer.BadParameter(
            f"{value!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:8000)"
        )
    return value


BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="VESTIS_BASE_URL",
        show_envvar=True,
        rich_help_panel=CONNECTION,
        callback=http_url,
        help="API base URL (default https://v2.api.piktid.com when credentials are given).",
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="VESTIS_TOKEN",
        show_envvar=True,
        rich_help_panel=CONNECTION,
        help="API token (Bearer).",
    ),
]
Username = Annotated[
    str | None,
    typer.Option(
        "--username",
        envvar="VESTIS_USERNAME",
        show_envvar=True,
        rich_help_panel=CONNECTION,
        help="API username (login, re-login on expiry).",
    ),
]
Password = Annotated[
    str | None,
    typer.Option(
        "--password",
        envvar="VESTIS_PASSWORD",
        show_envvar=True,
        rich_help_panel=CONNECTION,
        help="API password.",
    ),
]
JobsPerMinute = Annotated[
    int,
    typer.Option(
        "--jobs-per-minute",
        rich_help_panel=CONNECTION,
        help="Job submissions allowed per minute (the server's limit; 0 = no pacing). "
        "Ignored on the embedded server, which has no limit.",
    ),
]
SwapModel = Annotated[
    Literal["auto", "onda", "nano_banana_pro", "nano_banana_2"],
    typer.Option(
        "--model",
        help="Swap model of the hosted API. The embedded server's local engine has one model of "
        "its own, 'local', whatever is asked (the run says so).",
    ),
]
FlatModel = Annotated[
    Literal["auto", "nano_banana_pro", "seedream"],
    typer.Option(
        "--model",
        help="Generation model of the hosted API. The embedded server's local engine has one "
        "model of its own, 'local', whatever is asked (the run says so).",
    ),
]
PostProcess = Annotated[
    bool, typer.Option("--post-process", help="Enable post-processing (skin equalization).")
]
UseAnchor = Annotated[
    bool, typer.Option("--use-anchor", help="Keep identity/skin tone consistent across outputs.")
]
Prompt = Annotated[
    str | None, typer.Option("--prompt", rich_help_panel=INSTRUCTIONS, help="Text prompt.")
]
Pose = Annotated[
    str | None, typer.Option("--pose", rich_help_panel=INSTRUCTIONS, help="Pose of the model.")
]
Background = Annotated[
    str | None,
    typer.Option("--background", rich_help_panel=INSTRUCTIONS, help="Background description."),
]
NumVariations = Annotated[
    int,
    typer.Option(
        "--num-variations",
        rich_help_panel=INSTRUCTIONS,
        help="Variations of the instruction (1-4).",
    ),
]
Size = Annotated[
    Literal["1K", "2K", "4K"] | None,
    typer.Option("--size", rich_help_panel=INSTRUCTIONS, help="Output resolution."),
]
AspectRatio = Annotated[
    Literal["1:1", "3:4", "4:3", "9:16", "16:9"] | None,
    typer.Option("--aspect-ratio", rich_help_panel=INSTRUCTIONS, help="Aspect ratio."),
]
Format = Annotated[
    Literal["png", "jpg"] | None,
    typer.Option("--format", rich_help_panel=INSTRUCTIONS, help="Output format."),
]
Seed = Annotated[
    int | None, typer.Option("--seed", rich_help_panel=INSTRUCTIONS, help="Seed value.")
]
InstructionsFile = Annotated[
    Path | None,
    typer.Option(
        "--instructions-file",
        rich_help_panel=INSTRUCTIONS,
        help="JSON list of instructions (overrides the simple flags).",
    ),
]
NoConsistency = Annotated[
    bool,
    typer.Option("--no-consistency", help="Do not keep multi-output sets cohesive (use_anchor)."),
]
Barefoot = Annotated[
    bool, typer.Option("--barefoot", help="Render without footwear; ignore footwear images.")
]
Parallel = Annotated[
    int, typer.Option("--parallel", help="Folders processed at once (clamped to 1-5).")
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", rich_help_panel=OUTPUT, help="Only errors and summary.")
]
Verbose = Annotated[
    bool,
    typer.Option("--verbose", "-v", rich_help_panel=OUTPUT, help="Also retries, pacing, skips."),
]
JsonEvents = Annotated[
    bool,
    typer.Option(
        "--json",
        rich_help_panel=OUTPUT,
        help="Machine-readable events, one JSON object per line on stdout.",
    ),
]
AllowPartial = Annotated[
    bool,
    typer.Option(
        "--allow-partial",
        rich_help_panel=OUTPUT,
        help="A folder whose job completed counts as done even with inputs skipped (not "
        "readable images) or outputs failed; they are listed. Without it such a folder stops "
        "before its job, or exits 1.",
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        rich_help_panel=OUTPUT,
        help="List what would be uploaded and submitted, and the credits; do nothing.",
    ),
]
