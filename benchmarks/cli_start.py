"""How long `vestis` commands take to start and answer, cold and warm, before and after, side by
side in one run.

    python -m benchmarks cli_start [--repeat 5] [--before DIR] [--no-bytecode]

Each command runs as a new process, as a user types it: `--version`, `--help`, `data info`,
`identities list` and `jobs status` (embedded server: started, asked, stopped; the job is
unknown, so the answer is a 404 and the exit 1, after the same start) and `model-swap --help`.
"Cold" is the first run on a new, empty data dir (the embedded server creates its database);
"warm" is the next run on the same data dir. The page cache is not dropped (that needs root):
both runs find Python's and the libraries' files in memory, as a user's second command does.

"Before" is the `src/` of `BASELINE_COMMIT` (the state before issue 18's start-up work),
extracted by `git archive` into a temporary folder, or `--before DIR` (a folder holding a
`src/`); "after" is this checkout's `src/`. Both run with this Python and its libraries, and
their runs alternate (before cold, after cold, before warm, after warm, for each repeat), so a
busy machine slows both alike. Prints the median and the range of each, and after/before, of
the wall time and of the process's CPU time (user + sys, its threads included: on a machine
busy with other work it moves far less than the wall time).

Python's bytecode caches are written and used, as for an installed package (pip compiles it),
after one untimed run of each side; `--no-bytecode` measures with none (PYTHONDONTWRITEBYTECODE,
every module compiled from source in every process).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Before issue 18's last point (commands start in under 1 s).
BASELINE_COMMIT = "83d5785"
#: The command and the exit code it ends with.
COMMANDS: list[tuple[list[str], int]] = [
    (["--version"], 0),
    (["--help"], 0),
    (["data", "info"], 0),
    (["identities", "list"], 0),
    (["jobs", "status", "job_unknown"], 1),
    (["model-swap", "--help"], 0),
]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed(args: list[str], expected: int, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one `vestis <args>` process."""
    cpu, started = _cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "vestis", *args], env=env, capture_output=True, text=True
    )
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    if done.returncode != expected:
        raise SystemExit(
            f"vestis {' '.join(args)} ({env['PYTHONPATH']}) exited {done.returncode}, "
            f"not {expected}:\n{done.stdout}{done.stderr}"
        )
    return elapsed, cpu


def _env(src: Path, data_dir: Path, bytecode: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VESTIS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = str(src)
    env["VESTIS_DATA_DIR"] = str(data_dir)
    return env


#: (command, side, cold|warm) -> (wall, CPU) seconds of each run
Times = dict[tuple[str, str, str], list[tuple[float, float]]]


def measure(sides: dict[str, Path], repeat: int, bytecode: bool) -> Times:
    times: Times = {}
    with tempfile.TemporaryDirectory(prefix="vestis-bench-start-") as tmp:
        for side, src in sides.items():  # untimed: writes the bytecode caches
            _timed(["identities", "list"], 0, _env(src, Path(tmp) / f"warmup-{side}", bytecode))
    for args, expected in COMMANDS:
        name = " ".join(args)
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="vestis-bench-start-") as tmp:
                envs = {side: _env(src, Path(tmp) / side, bytecode) for side, src in sides.items()}
                for kind in ("cold", "warm"):
                    for side, env in envs.items():
                        times.setdefault((name, side, kind), []).append(_timed(args, expected, env))
    return times


def _show(times: list[float]) -> str:
    return f"{statistics.median(times):5.2f} ({min(times):.2f}-{max(times):.2f})"


def _row(name: str, kind: str, old: list[float], new: list[float]) -> str:
    ratio = statistics.median(new) / statistics.median(old)
    return f"{name:26} {kind:5} {_show(old):18} {_show(new):18} {ratio:12.2f}"


def _baseline_src(tmp: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BASELINE_COMMIT, "src"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp, filter="data")
    return tmp / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", type=Path, help="a folder with the `src/` to compare with")
    parser.add_argument("--no-bytecode", dest="bytecode", action="store_false")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vestis-bench-baseline-") as tmp:
        before = options.before / "src" if options.before else _baseline_src(Path(tmp))
        sides = {"before": before, "after": ROOT / "src"}
        print(
            f"before: {before} ({'--before' if options.before else BASELINE_COMMIT}), "
            f"after: {sides['after']}; {options.repeat} runs each, bytecode caches "
            f"{'on' if options.bytecode else 'off'}, load {os.getloadavg()[0]:.1f}"
        )
        times = measure(sides, options.repeat, options.bytecode)
    print(f"load at the end {os.getloadavg()[0]:.1f}; seconds, median (range)")
    for index, what in enumerate(("wall", "CPU (user + sys) of the process")):
        print(f"\n{what}")
        print(f"{'command':26} {'':5} {'before':18} {'after':18} {'after/before':>12}")
        for args, _ in COMMANDS:
            name = " ".join(args)
            for kind in ("cold", "warm"):
                old = [t[index] for t in times[(name, "before", kind)]]
                new = [t[index] for t in times[(name, "after", kind)]]
                print(_row(name, kind, old, new))


if __name__ == "__main__":
    main()
