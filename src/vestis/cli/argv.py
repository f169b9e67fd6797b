"""The command line's nargs="+" options (`--input-folders A B C`, `--image-notes "x" "" "y"`),
which click does not have: before click parses, each value after such an option becomes its own
repetition of the option (`--image-notes x --image-notes "" --image-notes y`), so that a command
with two of them (batch-create-packshot) knows which values belong to which. As with argparse,
the values end at the next token that starts with `-` (a negative number aside)."""

from __future__ import annotations

import re

MULTI_VALUE_OPTIONS = frozenset({"--input-folders", "--image-notes"})
_NUMBER = re.compile(r"^-\d+(\.\d+)?$")


def spread_multi_values(args: list[str]) -> list[str]:
    out: list[str] = []
    current: str | None = None
    for arg in args:
        if arg == "--":
            current = None
            out.append(arg)
        elif arg in MULTI_VALUE_OPTIONS:
            current = arg
            out.append(arg)
        elif arg.startswith("-") and arg != "-" and not _NUMBER.match(arg):
            current = None
            out.append(arg)
        elif current is not None and out[-1] != current:
            out += [current, arg]
        else:
            out.append(arg)
    return out
