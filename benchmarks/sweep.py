"""Sweep benchmark: the 8 published cases x every baseline x 5 seeds on the local backend.

Prints JSON. Target: the 400 runs (8 x 10 x 5) under 60 s on a 2-core machine with the local process pool,
with the speed-up over one process (the same cells run in this process, one after the other). Both runs
start from a warm process (every policy's cached numba code loaded once here; the pool's workers are
forked from it), write their tables into a temporary directory, and the two tables must be byte-identical.

The published cases are seed-compatible, so their five seeds give the same figures; they still run.

Usage: ``python benchmarks/sweep.py [--processes N] [--seeds S] [--skip-serial]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from goals import figure  # beside this script

import baselines
from tinysim_gym.config import load_scenario
from tinysim_gym.experiments.sweep.run import run_cell, run_sweep
from tinysim_gym.experiments.sweep.spec import Cell, load_sweep

CASES = ["sync_1", "sync_2", "async_1", "async_2", "async_3", "async_4", "acc_first", "lat_first"]


def cpu_s() -> float:
    """CPU seconds used so far by this process and its finished children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def spec(seeds: int) -> dict:
    return {"name": "published-cases", "scenarios": CASES, "policies": baselines.names(), "seeds": seeds}


def main(processes: int | None = None, seeds: int = 5, serial: bool = True) -> dict:
    processes = processes or os.cpu_count() or 1
    t = time.perf_counter()
    sweep = load_sweep(spec(seeds), registry=baselines)
    expand_s = time.perf_counter() - t
    t = time.perf_counter()
    seen = set()
    for c in sweep.cells:  # load every policy's compiled code once (tiny battery); forked workers inherit it
        if c.policy.label not in seen:
            seen.add(c.policy.label)
            tiny = load_scenario(c.scenario, battery={"capacity_mah": 0.001})
            run_cell(Cell(c.index, c.key, tiny, c.policy, c.seed))
    warm_s = time.perf_counter() - t
    out: dict = {
        "cells": len(sweep.cells),
        "cases": len(CASES),
        "baselines": len(baselines.names()),
        "baseline_names": baselines.names(),
        "seeds": seeds,
        "expand_s": round(expand_s, 3),
        "warmup_s": round(warm_s, 3),
        "processes": processes,
        "target_s": 60.0,
        "load_average_1min_before": round(os.getloadavg()[0], 2),  # other work on the machine skews the figures
    }
    with tempfile.TemporaryDirectory() as d:
        t, c = time.perf_counter(), cpu_s()
        rep = run_sweep(sweep, Path(d) / "pool.csv", backend="local", processes=processes)
        out["local_pool_s"] = round(time.perf_counter() - t, 3)
        out["local_pool_cpu_s"] = round(cpu_s() - c, 3)
        out["cells_with_errors"] = rep.errors
        out["within_target"] = out["local_pool_s"] < 60.0
        if serial:
            t, c = time.perf_counter(), cpu_s()
            run_sweep(sweep, Path(d) / "serial.csv", backend="local", processes=1)
            out["one_process_s"] = round(time.perf_counter() - t, 3)
            out["one_process_cpu_s"] = round(cpu_s() - c, 3)
            out["speedup"] = round(out["one_process_s"] / out["local_pool_s"], 2)
            # on a machine shared with other work the wall-clock speed-up says little; CPU time per run does
            out["cpu_share_of_pool"] = round(out["local_pool_cpu_s"] / (processes * out["local_pool_s"]), 2)
            same = (Path(d) / "pool.csv").read_bytes() == (Path(d) / "serial.csv").read_bytes()
            out["tables_identical"] = same
    out["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    out["figures"] = {"sweep of the published cases x baselines x seeds (local pool)": figure(
        out["local_pool_s"], 60.0, "s", cells=out["cells"], processes=processes)}
    return {"benchmark": "sweep", **out}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--skip-serial", action="store_true", help="do not measure the one-process time")
    a = ap.parse_args()
    print(json.dumps(main(a.processes, a.seeds, not a.skip_serial), indent=2))
