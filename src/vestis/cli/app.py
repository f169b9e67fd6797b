"""The `vestis` command line: the root Typer app. Each command group lives in its own module and
registers itself here."""

from __future__ import annotations

import importlib
import inspect
from typing import Annotated

import typer
from typer.core import TyperOption

import vestis
from vestis.cli import interrupts

app = typer.Typer(
    name="vestis",
    help="On-model product imagery: model swap and flat-to-model, client, server and engines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"vestis {vestis.__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version of vestis and exit.",
        ),
    ] = False,
) -> None:
    """On-model product imagery: model swap and flat-to-model, client, server and engines."""


#: A list of choices longer than this is shown with spaces between them, so that the help
#: table wraps it between two choices, never inside one (`nano_banan` / `a_2`).
LONG_CHOICES = 20


def _flags_show_no_type() -> None:
    """typer's help prints the type of every option beside it, `<bool>` for a flag too; a flag
    takes no value, so it gets an empty column (the help table is otherwise typer's). A list
    option shows what it takes (`<path> ...`), not Python's notation (`<list[Path]>`), and
    long choices wrap between words."""
    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
        if self.is_flag:
            return None
        text = shown(self, ctx)
        if text and text.startswith("<list[") and text.endswith("]>"):
            return f"<{text[6:-2].lower()}> ..."
        if text and "|" in text and len(text) > LONG_CHOICES:
            return text.replace("|", " | ")
        return text

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_type()

#: Modules that define commands on `app` (each exposes `register(app)`).
COMMAND_MODULES = (
    "vestis.cli.server_commands",
    "vestis.cli.run_commands",
    "vestis.cli.resource_commands",
    "vestis.cli.product_commands",
    "vestis.cli.demo_commands",
    "vestis.cli.studio_commands",
    "vestis.cli.data_commands",
    "vestis.cli.measure_commands",
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


def _one_line_paragraphs(text: str) -> str:
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _reflow_help(typer_app: typer.Typer) -> None:
    """typer prints a docstring's line breaks as they are, so a paragraph wrapped at 100
    columns in the source came out as broken lines in `--help` and in the list of commands;
    each paragraph becomes one line, and rich wraps it to the terminal."""
    for info in typer_app.registered_commands:
        doc = info.help or inspect.getdoc(info.callback)
        if doc:
            info.help = _one_line_paragraphs(doc)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


_reflow_help(app)


def main() -> None:
    """The console script of older installs (`vestis.cli.app:main`): `vestis.cli.main`, the
    commands imported already."""
    interrupts.run_command(lambda: app)
