"""Start-up benchmark: whole ``tinysim`` processes, timed from outside (start-up and imports included).

Prints one JSON object. Figures (medians of ``--repeats`` runs, each a fresh process; numba's on-disk
cache is warmed by one untimed run first, as a user's second run finds it):

* ``tinysim --help``: goal 0.2 s.
* ``tinysim simulate --scenario sync_1 --json``: goal 0.4 s.
* the eight published cases as eight ``tinysim simulate --scenario CASE --json`` processes, one after the
  other: goal 2.5 s.
* ``tinysim sweep benchmarks/sweeps/million.yaml --dry-run`` (1 M cells): goal 5 s.

Usage: ``python benchmarks/cli_start.py [--repeats 5]``. On a machine shared with other work the figures
swing; the spread (min, max) is printed beside each median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from goals import figure  # beside this script: ``python benchmarks/cli_start.py`` puts it on the path

HERE = Path(__file__).resolve().parent
TINYSIM = str(Path(sys.executable).with_name("tinysim"))
CASES = ["sync_1", "sync_2", "async_1", "async_2", "async_3", "async_4", "acc_first", "lat_first"]


def wall(commands: list[list[str]]) -> float:
    """Seconds to run ``commands`` one after the other (each must exit 0)."""
    t = time.perf_counter()
    for cmd in commands:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def timed(label: str, commands: list[list[str]], goal: float, repeats: int) -> dict:
    """The median wall time of ``commands`` (after one untimed warm-up) beside ``goal``."""
    wall(commands)  # warm-up: numba's cache and the OS file cache
    runs = [wall(commands) for _ in range(repeats)]
    return figure(statistics.median(runs), goal, "s", command=label, min=round(min(runs), 3), max=round(max(runs), 3))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    sync_1 = ["simulate", "--scenario", "sync_1", "--json"]
    million = ["sweep", str(HERE / "sweeps" / "million.yaml"), "--dry-run"]
    figures = {
        "tinysim --help": timed("tinysim --help", [[TINYSIM, "--help"]], 0.2, args.repeats),
        "simulate sync_1 (one CLI process)": timed("tinysim " + " ".join(sync_1), [[TINYSIM, *sync_1]], 0.4,
                                                   args.repeats),
        "eight published cases as eight CLI processes": timed(
            "tinysim simulate --scenario CASE --json, for each of the eight cases",
            [[TINYSIM, "simulate", "--scenario", c, "--json"] for c in CASES], 2.5, args.repeats),
        "1M-cell sweep --dry-run": timed("tinysim sweep benchmarks/sweeps/million.yaml --dry-run",
                                         [[TINYSIM, *million]], 5.0, max(1, args.repeats // 2)),
    }
    out = {
        "benchmark": "cli_start",
        "figures": figures,
        "repeats": args.repeats,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
