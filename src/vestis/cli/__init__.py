"""The `vestis` command line (typer). `main` is the console script."""

from __future__ import annotations

from vestis.cli import interrupts


def main() -> None:
    """Run the `vestis` command. The commands are imported here, under the Ctrl-C handler, so an
    interrupt during start-up ends like one during a run: one line, exit 130."""
    try:
        interrupts.install()
        from vestis.cli.app import app

        app()
    except (interrupts.Interrupted, KeyboardInterrupt):
        interrupts.stop_now()
