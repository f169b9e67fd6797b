"""`python -m benchmarks [name ...] [--option ...]`: run the named benchmark scripts (default:
bench_server), each in its own process, one after another; options go to every script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = ["bench_server"]


def main(argv: list[str]) -> int:
    cut = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:cut], argv[cut:]
    status = 0
    for name in names or DEFAULT:
        script = HERE / f"{name.removesuffix('.py')}.py"
        if not script.is_file():
            print(f"no benchmark {name!r}; have: {sorted(p.stem for p in HERE.glob('*.py'))}")
            return 2
        print(f"== {script.stem}")
        status |= subprocess.call([sys.executable, str(script), *options])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
