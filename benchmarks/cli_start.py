"""How long `vestis` commands take to start and answer, cold and warm.

    python -m benchmarks cli_start [--repeat 5] [--src DIR]

Each command runs as a new process, as a user types it: `--version`, `--help`, `data info`,
`identities list` (embedded server: started, asked, stopped) and `model-swap --help`.
"Cold" is the first run on a new, empty data dir (the embedded server creates its database);
"warm" is a later run on the same data dir. `--src` times another checkout's `src/` (e.g. one
made with `git archive`) for a before/after comparison. Prints the median and the range of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMANDS: list[list[str]] = [
    ["--version"],
    ["--help"],
    ["data", "info"],
    ["identities", "list"],
    ["model-swap", "--help"],
]


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "vestis", *args], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"vestis {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return elapsed


def _env(src: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VESTIS_")}
    env["PYTHONPATH"] = str(src)
    env["VESTIS_DATA_DIR"] = str(data_dir)
    return env


def measure(src: Path, repeat: int) -> dict[str, tuple[list[float], list[float]]]:
    """command -> (cold times, warm times) in seconds."""
    results: dict[str, tuple[list[float], list[float]]] = {}
    for args in COMMANDS:
        cold: list[float] = []
        warm: list[float] = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="vestis-bench-start-") as tmp:
                env = _env(src, Path(tmp) / "data")
                cold.append(_timed(args, env))
                warm.append(_timed(args, env))
        results[" ".join(args)] = (cold, warm)
    return results


def _show(times: list[float]) -> str:
    return f"{statistics.median(times):5.2f} s ({min(times):.2f}-{max(times):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--src", type=Path, default=HERE.parent / "src")
    options = parser.parse_args()
    print(f"vestis from {options.src}, {options.repeat} runs each, load {os.getloadavg()[0]:.1f}")
    print(f"{'command':24} {'cold (median, range)':26} {'warm (median, range)':26}")
    for name, (cold, warm) in measure(options.src, options.repeat).items():
        print(f"{name:24} {_show(cold):26} {_show(warm):26}")


if __name__ == "__main__":
    main()
