"""`vestis studio`: the review studio on this machine, with no account to set up. Starts the
embedded server (the same one the CLI uses, same data dir) on loopback and opens the browser,
signed in by a one-time link."""

from __future__ import annotations

import errno
import socket
import threading
import webbrowser
from typing import Annotated

import typer

from vestis.cli.connection import EMBEDDED_ENGINE_ENV, embedded_data_dir


def _sign_in_link(server: object) -> str:
    from vestis.server.embedded import LOCAL_USER
    from vestis.server.services.accounts import find_user
    from vestis.studio.auth import issue_ticket

    state = server.state  # type: ignore[attr-defined]
    with state.db.session() as db:
        user = find_user(db, LOCAL_USER)
        assert user is not None  # made by the embedded server's start
        ticket = issue_ticket(db, user)
    return f"{server.base_url}/studio/login?ticket={ticket}"  # type: ignore[attr-defined]


def _port_free(port: int) -> None:
    """A busy --port is said in one line before anything starts (uvicorn would log its error
    and the start-up would end in a traceback)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            why = "is already in use" if exc.errno == errno.EADDRINUSE else f"({exc.strerror})"
            typer.echo(
                f"Error: port {port} on 127.0.0.1 {why}: choose another --port, or leave it "
                "out for a free one",
                err=True,
            )
            raise typer.Exit(1) from exc


def studio(
    port: Annotated[
        int, typer.Option(help="Loopback port (default: a free one).", min=0, max=65535)
    ] = 0,
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open the studio in the browser.")
    ] = True,
    engine: Annotated[
        str | None,
        typer.Option(envvar=EMBEDDED_ENGINE_ENV, help="'local' or 'module:attr' of an engine."),
    ] = None,
) -> None:
    """Open the review studio: start the embedded server on loopback (data in the user data
    dir, or VESTIS_DATA_DIR) and open the browser, signed in. Ctrl-C stops it."""
    from vestis.server.embedded import TOKEN_FILE, EmbeddedServer

    if port:
        _port_free(port)
    data_dir = embedded_data_dir()
    try:
        server = EmbeddedServer(data_dir, engine=engine or "local", port=port or None).start()
    except RuntimeError as exc:  # a port taken in the meantime, a server that did not answer
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        link = _sign_in_link(server)
        typer.echo(f"vestis studio: {server.base_url}/studio/ (data in {data_dir})")
        typer.echo(f"Signed-in link (one use, 2 minutes): {link}")
        typer.echo(f"Later, sign in with the API token in {data_dir / TOKEN_FILE}.")
        if browser and not webbrowser.open(link):
            typer.echo("No browser could be opened here; open the link above yourself.")
        typer.echo("Press Ctrl-C to stop.")
        threading.Event().wait()
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    app.command("studio")(studio)
