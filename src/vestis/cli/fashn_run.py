"""`--provider fashn` of `vestis model-swap` and `vestis batch-swap`: the options, the
connection (FASHN API key and base URL, or the embedded server), and the run itself through
`runs.fashn_provider`. `run_commands` only declares the options and hands over here.

Connection: `--token` (or FASHN_API_KEY) and `--base-url` (or FASHN_BASE_URL, default
https://api.fashn.ai when a key is given). With neither, the embedded vestis server serves
`/v1/run` with the local engine, exactly as for the On-Model provider.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer

from vestis.cli import interrupts
from vestis.cli.interrupts import Interrupted
from vestis.cli.options import http_url
from vestis.cli.usage import usage_error
from vestis.client.fashn import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, FashnClient
from vestis.contract.pricing import fashn_cost
from vestis.runs.context import DEFAULT_TRANSFERS, RunContext
from vestis.runs.events import Reporter
from vestis.runs.fashn_provider import FaceReference, FashnFolderRun, FashnSwapOptions
from vestis.runs.identity import IdentityResolver
from vestis.runs.inputs import list_images
from vestis.runs.pacing import SubmissionPacer
from vestis.runs.spec import RunSpec

FASHN = "FASHN provider (--provider fashn)"
#: FASHN's documented limit on `/v1/run` (spec fashn-v1-api.md §1.3).
FASHN_RUNS_PER_MINUTE = 50

Provider = Annotated[
    Literal["onmodel", "fashn"],
    typer.Option(
        "--provider",
        help="API to run the swap on: onmodel (On-Model v2) or fashn (FASHN /v1/run model-swap).",
    ),
]
FaceReferenceOption = Annotated[
    str | None,
    typer.Option(
        "--face-reference",
        rich_help_panel=FASHN,
        help="Identity to swap in: an image path or URL (--identity-image may stand in).",
    ),
]
FaceReferenceMode = Annotated[
    Literal["match_base", "match_reference"],
    typer.Option(
        "--face-reference-mode",
        rich_help_panel=FASHN,
        help="match_base keeps the photo's head pose; match_reference follows the reference.",
    ),
]
NumImages = Annotated[
    int,
    typer.Option(
        "--num-images", min=1, max=4, rich_help_panel=FASHN, help="Outputs per image (1-4)."
    ),
]


@dataclass(frozen=True)
class FashnArgs:
    """The command line of a FASHN run, as `run_commands` received it."""

    base_url: str | None
    token: str | None
    username: str | None
    password: str | None
    identity_code: str | None
    identity_image: Path | None
    face_reference: str | None
    face_reference_mode: str
    num_images: int
    prompt: str = ""

    def validate(self, ctx: typer.Context) -> None:
        if self.username or self.password:
            usage_error(ctx, "--provider fashn authenticates with an API key: use --token")
        if self.identity_code:
            usage_error(
                ctx, "--provider fashn has no identity codes: use --face-reference PATH_OR_URL"
            )

    @property
    def reference(self) -> str | None:
        if self.face_reference:
            return self.face_reference
        return str(self.identity_image) if self.identity_image else None

    def options(self) -> FashnSwapOptions:
        return FashnSwapOptions(
            face_reference=self.reference,
            face_reference_mode=self.face_reference_mode,
            num_images=self.num_images,
            prompt=self.prompt,
        )


#: Options whose environment variables (VESTIS_TOKEN, VESTIS_BASE_URL, VESTIS_USERNAME,
#: VESTIS_PASSWORD) belong to the On-Model provider.
_ON_MODEL_ENV_OPTIONS = ("base_url", "token", "username", "password")


def without_on_model_environment(ctx: typer.Context, args: FashnArgs) -> FashnArgs:
    """Drop values that came from the On-Model provider's environment variables: an On-Model
    token must never be sent to FASHN. FASHN's own are FASHN_API_KEY and FASHN_BASE_URL; values
    given on the command line are kept."""
    dropped = {}
    for name in _ON_MODEL_ENV_OPTIONS:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name == "ENVIRONMENT":
            dropped[name] = None
    return dataclasses.replace(args, **dropped) if dropped else args


@dataclass
class FashnConnection:
    client: FashnClient
    base_url: str
    embedded: bool


@contextmanager
def connect(
    args: FashnArgs,
    on_retry: Callable[[int, float, str], None],
    announce: Callable[[str], None],
) -> Iterator[FashnConnection]:
    """A FashnClient for the flags and environment; the embedded server when there are none."""
    token = args.token or os.environ.get(API_KEY_ENV)
    base_url = http_url(args.base_url or os.environ.get(BASE_URL_ENV))
    with ExitStack() as stack:
        if not token and not base_url:
            from vestis.cli.connection import start_embedded

            server = start_embedded(stack, announce)
            token, base_url, embedded = server.token, server.base_url, True
        else:
            if not token:
                raise typer.BadParameter(
                    f"--base-url {base_url} needs an API key: --token or {API_KEY_ENV}"
                )
            base_url, embedded = (base_url or DEFAULT_BASE_URL).rstrip("/"), False
        client = stack.enter_context(FashnClient(token, base_url=base_url, on_retry=on_retry))
        yield FashnConnection(client, base_url, embedded)


def _dry_run(reporter: Reporter, args: FashnArgs, pairs: list[tuple[Path, Path]]) -> NoReturn:
    lines = ["Dry run: nothing is sent.", "Provider: fashn (model-swap)"]
    total = 0.0
    for folder, output in pairs:
        count = len(list_images(folder, swap=True)) if folder.is_dir() else 0
        cost = count * fashn_cost(args.num_images, args.reference is not None)
        total += cost
        lines.append(
            f"{folder} -> {output}: {count} images x {args.num_images} outputs, {cost:g} credits"
        )
    lines.append(f"Total: {total:g} credits")
    reporter.write("\n".join(lines))
    reporter.close()
    raise typer.Exit(0)


def execute(
    ctx: typer.Context,
    reporter: Reporter,
    args: FashnArgs,
    jobs_per_minute: int,
    work: Callable[[RunContext, Callable[..., Any]], int],
    pairs: list[tuple[Path, Path]],
    dry_run: bool,
    allow_partial: bool = False,
) -> NoReturn:
    """Validate, connect, run `work(run_context, folder_runner)`, exit with its code."""
    args = without_on_model_environment(ctx, args)
    args.validate(ctx)
    reference = args.reference
    local = bool(reference) and not str(reference).startswith(("http://", "https://", "data:"))
    if local and not Path(str(reference)).expanduser().is_file():
        reporter.event("error", message=f"Face reference image not found: {reference}")
        reporter.close()
        raise typer.Exit(1)
    source = ctx.get_parameter_source("jobs_per_minute")
    if source is not None and source.name == "DEFAULT":
        # The v2 default (5 jobs a minute) is one job per folder; FASHN runs one prediction
        # per image and allows 50 a minute. A stricter server's 429 + Retry-After still
        # closes the gate for every worker.
        jobs_per_minute = FASHN_RUNS_PER_MINUTE
    if dry_run:
        _dry_run(reporter, args, pairs)
    spec = RunSpec(kind="swap", model="fashn:model-swap")
    pacer = SubmissionPacer(jobs_per_minute)
    holder: dict[str, RunContext] = {}

    def on_retry(retry: int, wait: float, reason: str) -> None:
        if "ctx" in holder:
            holder["ctx"].on_retry(retry, wait, reason)

    code = 1
    transfers = ThreadPoolExecutor(DEFAULT_TRANSFERS, "vestis-transfer")
    try:
        announce = functools.partial(reporter.event, "info")
        with connect(args, on_retry, lambda m: announce(message=m)) as conn:
            run = RunContext(
                client=conn.client,
                spec=spec,
                reporter=reporter,
                identity=IdentityResolver(None, None, None),
                pacer=SubmissionPacer(0) if conn.embedded else pacer,
                transfers=transfers,
                base_url=conn.base_url,
                allow_partial=allow_partial,
            )
            holder["ctx"] = run
            runner = functools.partial(
                FashnFolderRun,
                options=args.options(),
                face_reference=FaceReference(args.reference),
            )
            try:
                code = work(run, runner)
            except Interrupted:
                interrupts.stop_run(reporter)  # before the connection waits for anything
    except Interrupted:  # during start-up
        interrupts.stop_run(reporter)
    finally:
        transfers.shutdown(wait=False, cancel_futures=True)
        reporter.close()
    raise typer.Exit(code)


def configuration(args: FashnArgs, parallel: int, base_url: str) -> dict[str, Any]:
    """`configuration` of the batch summary for a FASHN batch (never a secret)."""
    return {
        "provider": "fashn",
        "parallel": parallel,
        "model": "model-swap",
        "base_url": base_url,
        "face_reference": args.reference,
        "face_reference_mode": args.face_reference_mode,
        "num_images": args.num_images,
    }
