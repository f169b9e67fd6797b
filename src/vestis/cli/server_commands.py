"""`vestis serve`, `vestis worker`, `vestis users add`, `vestis tokens create`, `vestis usage`:
running and administering a server. The data dir may come from `VESTIS_DATA_DIR`, the database
URL from `VESTIS_DATABASE_URL`."""

from __future__ import annotations

import dataclasses
import errno
import json
import signal
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from vestis.server.settings import DATA_DIR_ENV, ServerSettings, data_dir_from
from vestis.server.store.datadir import DataDirLock

if TYPE_CHECKING:
    from collections.abc import Mapping

    from vestis.server.jobqueue import Handler, JobQueue
    from vestis.server.store.db import Database

DATABASE_URL_ENV = "VESTIS_DATABASE_URL"
BLOB_STORE_ENV = "VESTIS_BLOB_STORE"

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar=DATA_DIR_ENV, help="Where the database and images live."),
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar=DATABASE_URL_ENV,
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user:pass@host/vestis (default: SQLite "
        "in the data dir).",
    ),
]
AllowPrivateUrlsOpt = Annotated[
    bool,
    typer.Option(
        "--allow-private-urls",
        help="Let URL inputs and webhooks reach private, loopback and link-local addresses.",
    ),
]


BlobStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--blob-store",
        envvar=BLOB_STORE_ENV,
        help="s3://BUCKET or s3://BUCKET/PREFIX: images in an S3-compatible store (endpoint and "
        "credentials from the AWS_* variables); default: the data dir.",
    ),
]


def _scratch_data_dir() -> Path:
    """A data dir for a process that keeps nothing in one (PostgreSQL and S3): a temporary
    folder for files still arriving, said on stderr and removed when the process ends."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="vestis-"))
    typer.echo(
        f"No --data-dir: files still arriving are kept in {folder} until they go to the "
        "bucket; the folder is removed when this process stops (not when it is killed).",
        err=True,
    )
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _settings(
    data_dir: Path | None,
    database_url: str | None,
    blob_store: str | None = None,
    **kwargs: object,
) -> ServerSettings:
    """With PostgreSQL and an S3 store nothing lives in a data dir: it may be left out."""
    try:
        folder = data_dir_from(data_dir)
    except ValueError as exc:
        if not (database_url and blob_store):
            raise typer.BadParameter(str(exc), param_hint="--data-dir") from exc
        folder = _scratch_data_dir()
    if blob_store:
        from vestis.server.store.blobs_s3 import BlobStoreError, parse_s3_url

        try:
            parse_s3_url(blob_store)
        except BlobStoreError as exc:
            raise typer.BadParameter(str(exc), param_hint="--blob-store") from exc
    return ServerSettings(
        data_dir=folder,
        database_url=database_url,
        blob_store=blob_store,
        **kwargs,  # type: ignore[arg-type]
    )


def _database(data_dir: Path | None, database_url: str | None) -> Database:
    """The database of an operator command: `--database-url`, else SQLite in the data dir."""
    from vestis.server.process.state import ServerState
    from vestis.server.store.schema import open_database

    if database_url:
        return open_database(database_url)
    return ServerState.open(_settings(data_dir, None)).db


def _lock_sqlite_data_dir(settings: ServerSettings) -> object:
    """With SQLite, one server per data dir: a second stops at once, saying why."""
    from vestis.server.store.datadir import DataDirInUse, lock_data_dir

    if settings.database_url:
        return None
    try:
        return lock_data_dir(settings.data_dir)
    except DataDirInUse as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc


def serve(
    data_dir: DataDirOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Outputs this process makes at a time (0: an API process that runs no engine "
            "work; with PostgreSQL, `vestis worker` processes do it).",
        ),
    ] = 2,
    rate_limit: Annotated[
        int, typer.Option("--rate-limit", help="Job creations per user per minute (0 = off).")
    ] = 5,
    rate_limit_window: Annotated[
        int,
        typer.Option(
            "--rate-limit-window",
            min=1,
            help="Window of --rate-limit in seconds (60; shorter only for tests).",
            hidden=True,
        ),
    ] = 60,
    fashn_rate_limit: Annotated[
        int,
        typer.Option("--fashn-rate-limit", help="FASHN /v1/run requests per user per minute."),
    ] = 50,
    public_url: Annotated[
        str | None, typer.Option("--public-url", help="Base URL of signed links.")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="'local', 'onmodel', 'fashn' or 'module:attr' of an engine; a comma-separated "
            "list ('onmodel,local') is a chain tried in order."
        ),
    ] = "local",
    garment_lock: Annotated[
        bool,
        typer.Option(
            "--garment-lock/--no-garment-lock",
            help="Put the pixels outside the swap region back from the photo in model swaps "
            "from engines that repaint it (remote engines).",
        ),
    ] = True,
    faults: Annotated[
        str | None, typer.Option(help="Fault injection, e.g. '429=0.2,500=0.1,drop=0.05,seed=7'.")
    ] = None,
    database_url: DatabaseOpt = None,
    blob_store: BlobStoreOpt = None,
    initial_credits: Annotated[
        float, typer.Option("--initial-credits", help="Credits of new users.")
    ] = 1000,
    access_token_ttl: Annotated[
        int, typer.Option("--access-token-ttl", help="Lifetime of login tokens in seconds.")
    ] = 3600,
    allow_private_urls: AllowPrivateUrlsOpt = False,
    allow_long_tokens: Annotated[
        bool,
        typer.Option(
            "--allow-long-tokens",
            help="Let API tokens made with POST /auth/token outlive the token that made them.",
        ),
    ] = False,
    sse_keepalive: Annotated[
        float, typer.Option("--sse-keepalive", help="Seconds between SSE keepalive comments.")
    ] = 15.0,
    sse_max: Annotated[
        float,
        typer.Option(
            "--sse-max-seconds",
            min=0,
            help="End each event stream after this many seconds (0: never); clients reconnect.",
        ),
    ] = 0.0,
    identity_retries: Annotated[
        int,
        typer.Option(
            "--identity-retries",
            min=0,
            help="Make an output whose face is not the identity again, with another seed, up "
            "to N times (the best is kept; if none is the identity it says so in a warning).",
        ),
    ] = 2,
    studio: Annotated[
        bool, typer.Option("--studio/--no-studio", help="Serve the review studio at /studio.")
    ] = True,
    stalled_after: Annotated[
        float,
        typer.Option(
            "--stalled-after",
            min=1,
            help="PostgreSQL: seconds without a heartbeat after which a worker is presumed dead "
            "and its tasks go to another.",
        ),
    ] = 30.0,
) -> None:
    """Run the On-Model v2 API server."""
    import uvicorn

    from vestis.server.http.app import create_app
    from vestis.server.process.state import ServerState
    from vestis.server.services.accounts import ensure_admin

    _exit_cleanly_on_sigterm()
    settings = _settings(
        data_dir,
        database_url,
        blob_store,
        host=host,
        port=port,
        workers=workers,
        rate_limit_per_minute=rate_limit,
        rate_limit_window_seconds=rate_limit_window,
        garment_lock=garment_lock,
        fashn_runs_per_minute=fashn_rate_limit,
        public_base_url=public_url,
        engine=engine,
        faults=faults,
        initial_credits=initial_credits,
        access_token_ttl_seconds=access_token_ttl,
        allow_private_urls=allow_private_urls,
        sse_keepalive_seconds=sse_keepalive,
        sse_max_seconds=sse_max,
        identity_retries=identity_retries,
        allow_long_tokens=allow_long_tokens,
        studio=studio,
        stalled_after_seconds=stalled_after,
    )
    from vestis.server.process.engine_loader import load_chain

    try:
        chain = load_chain(settings.engine)
    except ValueError as exc:  # checked before anything starts: a clear message, exit 2
        raise typer.BadParameter(str(exc), param_hint="--engine") from exc
    listening = _listen(host, port)  # before any account is made or "serving" is said
    held = _lock_sqlite_data_dir(settings)  # noqa: F841 (held while the server runs)
    state = ServerState.open(settings)
    DataDirLock(settings.data_dir).hold()  # for the process's life: `vestis data clear` waits
    state.engine = chain
    with state.db.session() as db:
        admin = ensure_admin(db, settings.initial_credits)
    if admin is not None:
        typer.echo("First start: created user 'admin'. These are shown only once:")
        typer.echo(f"  username: {admin.username}")
        typer.echo(f"  password: {admin.password}")
        typer.echo(f"  API token: {admin.token}")
    typer.echo(f"vestis serving {settings.base_url} (data dir {settings.data_dir})")
    if studio:
        typer.echo(f"review studio: {settings.base_url}/studio/")
    app = create_app(settings, state)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5
    )
    uvicorn.Server(config).run(sockets=[listening])


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM (`kill`, systemd's stop) ends the process as a normal exit, 0, its exit handlers
    run (the scratch data dir's removal). Without this, SIGTERM's default action ends it at once
    where no graceful stop is in place: while it starts, while a worker loads its models, and
    after uvicorn's graceful shutdown, which raises the signal again. Procrastinate's and
    uvicorn's own handlers take over while they run."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a busy port or a host that is not this machine's fails
    here, in one line, instead of after the first start made credentials and said "serving".
    uvicorn is given this very socket, so nothing can take the port in between."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        _cannot_listen(f"cannot listen on {host}: {exc.strerror or exc}")
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            _cannot_listen(
                f"port {port} on {host} is already in use (another vestis serve?): stop that "
                "server or choose another --port"
            )
        _cannot_listen(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    return sock


def _cannot_listen(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


users_app = typer.Typer(help="Manage the users of a server's data dir.", no_args_is_help=True)
tokens_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Password.")],
    data_dir: DataDirOpt = None,
    credits: Annotated[float, typer.Option(help="Starting credit balance.")] = 1000,
    database_url: DatabaseOpt = None,
) -> None:
    """Create a user that can log in with NAME and the password."""
    from vestis.server.services.accounts import AccountError, create_user

    database = _database(data_dir, database_url)
    try:
        with database.session() as db:
            create_user(db, name, password, credits)
    except AccountError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Created user {name!r} with {credits:g} credits.", err=True)


@tokens_app.command("create")
def tokens_create(
    data_dir: DataDirOpt = None,
    user: Annotated[str, typer.Option("--user", help="Owner of the token.")] = "admin",
    days: Annotated[int, typer.Option(help="Validity in days.")] = 365,
    database_url: DatabaseOpt = None,
) -> None:
    """Create an API token for USER and print only the token (for scripts)."""
    from vestis.server.services.accounts import find_user, issue_token

    with _database(data_dir, database_url).session() as db:
        owner = find_user(db, user)
        if owner is None:
            typer.echo(f"Error: no user {user!r}; create it with 'vestis users add'.", err=True)
            raise typer.Exit(1)
        token, _ = issue_token(db, owner, "api", timedelta(days=days))
    typer.echo(token)


def usage(
    data_dir: DataDirOpt = None,
    database_url: DatabaseOpt = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            help="Only outputs made from this date on (e.g. 2026-01-01).",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
        ),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """What the upstream services (On-Model, FASHN) cost, per user and engine."""
    from vestis.server.services.usage import upstream_usage

    with _database(data_dir, database_url).session() as db:
        rows = upstream_usage(db, since, user)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(dataclasses.asdict(row)))
        return
    if not rows:
        typer.echo("No outputs yet.")
        return
    width = max(4, *(len(row.user) for row in rows))
    typer.echo(f"{'user':<{width}}  {'engine':<10} {'outputs':>8} {'upstream credits':>17}")
    for row in rows:
        typer.echo(
            f"{row.user:<{width}}  {row.engine:<10} {row.outputs:>8} {row.upstream_credits:>17g}"
        )
    for engine in sorted({row.engine for row in rows}):
        spent = sum(row.upstream_credits for row in rows if row.engine == engine)
        made = sum(row.outputs for row in rows if row.engine == engine)
        typer.echo(f"{'total':<{width}}  {engine:<10} {made:>8} {spent:>17g}")


@tokens_app.command("list")
def tokens_list(
    data_dir: DataDirOpt = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Only this user's tokens (default: all).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Also expired and revoked tokens.")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """List tokens: id, user, kind, expiry, state and the token that made it (never the
    token itself, which is stored only as a hash)."""
    from vestis.server.services.accounts import token_rows

    with _database(data_dir, database_url).session() as db:
        rows = token_rows(db, user, include_inactive=all_)
    if not rows:
        typer.echo("No tokens." if all_ else "No active tokens (--all shows the others).")
        return
    typer.echo(f"{'TOKEN ID':38} {'USER':16} {'KIND':8} {'EXPIRES (UTC)':20} {'STATE':8} MADE BY")
    for row in rows:
        typer.echo(
            f"{row.token_id:38} {row.username:16} {row.kind:8} {row.expires:20} "
            f"{row.state:8} {row.parent or '-'}"
        )


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from 'vestis tokens list').")],
    data_dir: DataDirOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Revoke a token and every token made from it. A running server refuses them at once
    and ends their open event streams within one keepalive interval."""
    from vestis.server.services.accounts import revoke_by_id

    with _database(data_dir, database_url).session() as db:
        revoked = revoke_by_id(db, token_id)
    if revoked is None:
        typer.echo(f"Error: no active token {token_id!r}; see 'vestis tokens list'.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Revoked {len(revoked)} token(s): {', '.join(revoked)}")


def worker(
    database_url: DatabaseOpt = None,
    data_dir: DataDirOpt = None,
    blob_store: BlobStoreOpt = None,
    engine: Annotated[
        str,
        typer.Option(
            help="'local', 'onmodel', 'fashn' or 'module:attr' of an engine; a comma-separated "
            "list is a chain tried in order (as for `vestis serve`)."
        ),
    ] = "local",
    concurrency: Annotated[
        int, typer.Option(min=1, help="Outputs this worker makes at a time.")
    ] = 2,
    queues: Annotated[
        str, typer.Option(help="Comma-separated queues to take tasks from: jobs, webhooks.")
    ] = "jobs,webhooks",
    stalled_after: Annotated[
        float,
        typer.Option(
            "--stalled-after",
            min=1,
            help="Seconds without a heartbeat after which a worker is presumed dead and its "
            "tasks go to another.",
        ),
    ] = 30.0,
    allow_private_urls: AllowPrivateUrlsOpt = False,
    identity_retries: Annotated[
        int, typer.Option("--identity-retries", min=0, help="As for `vestis serve`.")
    ] = 2,
) -> None:
    """Take jobs from a PostgreSQL database's queue and make their outputs (any number of
    these, on any number of machines, beside `vestis serve --workers 0` API processes)."""
    import asyncio
    import logging

    from vestis.server.http.app import attach_engine
    from vestis.server.jobqueue.postgres import QUEUES
    from vestis.server.process.runtime import Runtime, make_queue
    from vestis.server.process.state import ServerState

    _exit_cleanly_on_sigterm()
    if not database_url or not database_url.startswith("postgresql"):
        raise typer.BadParameter(
            "vestis worker needs a PostgreSQL database (e.g. postgresql+psycopg://user:pass@host/"
            "vestis); with SQLite, `vestis serve` makes the outputs itself.",
            param_hint="--database-url",
        )
    chosen = tuple(q.strip() for q in queues.split(",") if q.strip())
    unknown = sorted(set(chosen) - set(QUEUES))
    if not chosen or unknown:
        raise typer.BadParameter(
            f"unknown queue {', '.join(unknown) or '(none)'}; the queues are {', '.join(QUEUES)}.",
            param_hint="--queues",
        )
    from vestis.server.process.engine_loader import load_chain

    try:
        chain = load_chain(engine)
    except ValueError as exc:  # checked before anything starts: a clear message, exit 2
        raise typer.BadParameter(str(exc), param_hint="--engine") from exc
    settings = _settings(
        data_dir,
        database_url,
        blob_store,
        engine=engine,
        workers=concurrency,
        stalled_after_seconds=stalled_after,
        allow_private_urls=allow_private_urls,
        identity_retries=identity_retries,
    )
    # Warnings (a dead worker's task put back, an engine crash) go to stderr with a time.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    state = ServerState.open(settings)
    state.engine = chain
    attach_engine(state)
    queue = make_queue(state, pools=[(chosen, concurrency)])
    runtime = Runtime(state, queue, serves_http=False)
    typer.echo(
        f"vestis worker: {concurrency} at a time from {', '.join(chosen)} "
        f"(engine {state.engine_name})"
    )
    asyncio.run(_warm_then_work(queue, runtime.handlers()))


async def _warm_then_work(queue: JobQueue, handlers: Mapping[str, Handler]) -> None:
    """The measures' models loaded first, on the event loop's default thread pool, where the
    queue's tasks run (an idle thread of it takes the first task: its models are built), and
    only then the queue's workers register and take tasks: a first output does not wait for
    them."""
    import asyncio

    from vestis.quality.models import warm_up

    await asyncio.to_thread(warm_up)
    await queue.run_workers(handlers, queue.pools)  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("usage")(usage)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
