"""Usage errors: printed like the parser's own and ending the command with exit code 2."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer


def usage_error(ctx: Any, message: str) -> NoReturn:
    """`Usage: ...`, a help hint and `Error: <message>` on stderr; exit 2 (argparse's code)."""
    usage = ctx.get_usage() if ctx is not None else ""
    hint = f"Try '{ctx.command_path} --help' for help." if ctx is not None else ""
    print("\n".join(p for p in (usage, hint, f"Error: {message}") if p), file=sys.stderr)
    raise typer.Exit(2)
