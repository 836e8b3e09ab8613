"""Start-up benchmark: whole ``tinysim`` processes, timed from outside (start-up and imports included).

Prints one JSON object. Figures (medians of ``--repeats`` runs, each a fresh process; numba's on-disk
cache is warmed by one untimed run first, as a user's second run finds it):

* ``tinysim --help``: goal 0.2 s.
* ``tinysim simulate --scenario sync_1 --json``: goal 0.4 s.
* the eight published cases as eight ``tinysim simulate --scenario CASE --json`` processes, one after the
  other: goal 2.5 s.
* ``tinysim sweep benchmarks/sweeps/million.yaml --dry-run`` (1 M cells): goal 5 s.

The kernels of one-off runs are built ahead of time first (``tinysim build-kernels``, as ``make install``
does), so the simulate figures start without numba; the same commands with ``TINYSIM_AOT=0`` (numba's
cached kernels) are timed beside them, interleaved run by run, and their ratio printed.

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


NUMBA_ONLY = {**os.environ, "TINYSIM_AOT": "0"}


def wall(commands: list[list[str]], env: dict[str, str] | None = None) -> float:
    """Seconds to run ``commands`` one after the other (each must exit 0)."""
    t = time.perf_counter()
    for cmd in commands:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def timed(label: str, commands: list[list[str]], goal: float, repeats: int, peer: bool = False) -> dict:
    """The median wall time of ``commands`` (after one untimed warm-up) beside ``goal``.

    With ``peer``, the same commands under ``TINYSIM_AOT=0`` alternate with them and are reported too.
    """
    wall(commands)  # warm-up: numba's cache and the OS file cache
    if peer:
        wall(commands, NUMBA_ONLY)
    runs, numba_runs = [], []
    for _ in range(repeats):
        runs.append(wall(commands))
        if peer:
            numba_runs.append(wall(commands, NUMBA_ONLY))
    extra = {}
    if peer:
        extra = {"numba_kernels_s": round(statistics.median(numba_runs), 3),
                 "ratio_to_numba": round(statistics.median(runs) / statistics.median(numba_runs), 3)}
    return figure(statistics.median(runs), goal, "s", command=label, min=round(min(runs), 3), max=round(max(runs), 3),
                  **extra)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    subprocess.run([TINYSIM, "build-kernels"], check=True, stdout=subprocess.DEVNULL)
    sync_1 = ["simulate", "--scenario", "sync_1", "--json"]
    million = ["sweep", str(HERE / "sweeps" / "million.yaml"), "--dry-run"]
    figures = {
        "tinysim --help": timed("tinysim --help", [[TINYSIM, "--help"]], 0.2, args.repeats),
        "simulate sync_1 (one CLI process)": timed("tinysim " + " ".join(sync_1), [[TINYSIM, *sync_1]], 0.4,
                                                   args.repeats, peer=True),
        "eight published cases as eight CLI processes": timed(
            "tinysim simulate --scenario CASE --json, for each of the eight cases",
            [[TINYSIM, "simulate", "--scenario", c, "--json"] for c in CASES], 2.5, args.repeats, peer=True),
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
