"""`python -m benchmarks [name ...]`: run the named benchmark scripts (default: bench_server),
each in its own process, one after another."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = ["bench_server"]


def main(names: list[str]) -> int:
    status = 0
    for name in names or DEFAULT:
        script = HERE / f"{name.removesuffix('.py')}.py"
        if not script.is_file():
            print(f"no benchmark {name!r}; have: {sorted(p.stem for p in HERE.glob('*.py'))}")
            return 2
        print(f"== {script.stem}")
        status |= subprocess.call([sys.executable, str(script)])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
