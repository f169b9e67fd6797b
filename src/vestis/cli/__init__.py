"""The `vestis` command line (typer); `main` is the console script. May import every room."""

from __future__ import annotations

import faulthandler
import gc
import sys

from vestis.cli import interrupts


def main() -> None:
    """Run the `vestis` command. The commands are imported here, under the Ctrl-C handler, so an
    interrupt during start-up ends like one during a run: one line, exit 130.

    faulthandler is on for every command: a process that dies in native code (a segfault or an
    abort in an image or model library, in `vestis serve` or in a run's embedded server) prints
    every thread's Python stack to stderr first, so the log says where instead of a bare exit
    code."""
    if not faulthandler.is_enabled():
        faulthandler.enable()
    if sys.argv[1:] == ["--version"]:
        # what the root callback prints, without importing every command first
        import vestis

        print(f"vestis {vestis.__version__}")
        return
    try:
        interrupts.install()
        from vestis.cli.app import app
        from vestis.cli.argv import spread_multi_values

        sys.argv[1:] = spread_multi_values(sys.argv[1:])
        app()
    except (interrupts.Interrupted, KeyboardInterrupt):
        interrupts.stop_now()
    finally:
        # The command is done: what it made lives until the process ends anyway. Frozen, the
        # objects of every imported module (the server's, the client's: hundreds of thousands)
        # are not walked once more by the collection Python runs as it exits, which took
        # about a third of a second, longer than some whole commands.
        gc.freeze()
