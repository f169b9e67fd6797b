"""The `vestis` command line: the root Typer app. Each command group lives in its own module and
registers itself here."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="vestis",
    help="On-model product imagery: model swap and flat-to-model, client, server and engines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules that define commands on `app` (each exposes `register(app)`).
COMMAND_MODULES = (
    "vestis.cli.server_commands",
    "vestis.cli.run_commands",
    "vestis.cli.resource_commands",
    "vestis.cli.demo_commands",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(app)


_register_all()


def main() -> None:
    """The console script of older installs (`vestis.cli.app:main`); see `vestis.cli.main`."""
    from vestis.cli import main as run

    run()
