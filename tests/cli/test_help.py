"""The command line's own surface: --version, and help text that says something for every
option of every command (in-process, no server)."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import vestis
from vestis.cli.app import app


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf command under `group` with its path (typer carries its own click)."""
    found: list[tuple[tuple[str, ...], Any]] = []
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if hasattr(command, "list_commands"):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


COMMANDS = _commands(typer.main.get_group(app))


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"vestis {vestis.__version__}\n"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_option_has_help_and_flags_show_no_type(path: tuple[str, ...]) -> None:
    command = dict(COMMANDS)[path]
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden:
            assert param.help, f"vestis {' '.join(path)} {param.opts[0]} has no help text"
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output


def test_model_choices_say_what_the_local_engine_does() -> None:
    for path in (("model-swap",), ("flat-to-model",)):
        text = CliRunner().invoke(app, [*path, "--help"], terminal_width=200).output
        assert "local engine" in text and "'local'" in text


def test_dry_run_in_json_is_one_event(tmp_path) -> None:
    """The output mode comes from the reporter (`machine_readable`), not from its class name."""
    import json

    from PIL import Image

    folder = tmp_path / "ARTICLE-1"
    folder.mkdir()
    Image.new("RGB", (32, 32), "red").save(folder / "a.jpg")
    args = ["model-swap", "--input-folder", str(folder), "--identity-code", "c", "--dry-run"]
    as_json = CliRunner().invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    (event,) = [json.loads(line) for line in as_json.output.splitlines()]
    assert event["event"] == "dry_run"
    as_text = CliRunner().invoke(app, args)
    assert as_text.exit_code == 0 and "Dry run: nothing is uploaded" in as_text.output


@pytest.mark.parametrize(
    "args",
    [
        ["model-swap", "--input-folder", ".", "--identity-code", "c"],
        ["batch-swap", "--input-dir", ".", "--identity-code", "c"],
        ["model-swap", "--input-folder", ".", "--provider", "fashn", "--face-reference", "x"],
        ["identities", "list"],
    ],
    ids=["model-swap", "batch-swap", "fashn", "identities"],
)
def test_a_base_url_without_its_scheme_is_a_usage_error(args: list[str]) -> None:
    """Not a traceback from deep in the client once the run has started."""
    result = CliRunner().invoke(app, [*args, "--base-url", "localhost:8000", "--token", "t"])
    assert result.exit_code == 2, result.output
    assert "'localhost:8000' is not an http:// or https:// URL" in result.output
    assert "Traceback" not in result.output
    from_env = CliRunner().invoke(
        app, [*args, "--token", "t"], env={"VESTIS_BASE_URL": "localhost:8000"}
    )
    assert from_env.exit_code == 2, from_env.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_help_paragraphs_are_wrapped_by_the_terminal_not_the_source(path: tuple[str, ...]) -> None:
    """A docstring wrapped at 100 columns in the source must not come out as a line broken in
    the middle of a sentence on an 80-column terminal."""
    command = dict(COMMANDS)[path]
    for paragraph in (command.help or "").split("\n\n"):
        assert "\n" not in paragraph, f"vestis {' '.join(path)}: {paragraph!r}"
