"""Time the DP oracle's solve (no cache) and measure its peak memory, one fresh process per scenario.

Scenarios, each without and with the skip action (``+skip``): the energy-pacing training scenario
``usps-l476-async-horizon`` and a bursty, deadline-bound, solar-harvesting example (usps_tova on
NUCLEO-L476RG, 0.05 mAh, 60 s horizon, MMPP arrivals at 100/1500 Hz switching at 1/4 Hz, a 0.5 ms
minimum interval, a 3 mA solar harvester with a 30 s period, a 4 ms deadline). Also the hindsight bound's
time for one seed. Prints one JSON object. Goal: <= 60 s and <= 2 GB per solve on a 2-core machine.

    .venv/bin/python benchmarks/optimal.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

BURSTY_DEADLINE_SOLAR: dict[str, Any] = {
    "name": "bursty-deadline-solar",
    "description": "usps_tova on NUCLEO-L476RG, 0.05 mAh, 60 s, MMPP 100/1500 Hz, solar 3 mA / 30 s, deadline 4 ms",
    "board": "NUCLEO-L476RG",
    "profile": "usps_tova",
    "workload": {"mode": "async", "process": "mmpp", "min_interval_ms": 0.5, "buffer_size": 6,
                 "mmpp": {"rates_hz": [100.0, 1500.0], "switch_hz": [1.0, 4.0]}},
    "battery": {"capacity_mah": 0.05},
    "horizon_ms": 60000.0,
    "harvester": {"kind": "solar", "peak_current_ma": 3.0, "period_ms": 30000.0},
    "deadline_ms": 4.0,
}
CASES: dict[str, Any] = {"usps-l476-async-horizon": "usps-l476-async-horizon",
                         "bursty-deadline-solar": BURSTY_DEADLINE_SOLAR}
#: every case is timed without and with the skip action
NAMES = [n for base in CASES for n in (base, f"{base}+skip")]


def case(name: str) -> Any:
    """The scenario of a case (a ``+skip`` case is its base with ``allow_skip: true``)."""
    from tinysim_gym.config import load_scenario

    base = name.removesuffix("+skip")
    return load_scenario(CASES[base], allow_skip=True) if base != name else load_scenario(CASES[name])


def one(name: str) -> dict[str, Any]:
    """Solve one case in this process; report times, sizes and peak resident memory."""
    from tinysim_gym.config import load_scenario
    from tinysim_gym.optimal.hindsight import hindsight_seed
    from tinysim_gym.optimal.oracle import solve

    sc = case(name)
    solve(load_scenario("usps-l476-async1"), use_cache=False)  # compile the kernels outside the timing
    t = time.perf_counter()
    sol = solve(sc, use_cache=False)
    solve_s = time.perf_counter() - t
    rss_solve = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    h = hindsight_seed(sc, 0)
    hind_s = time.perf_counter() - t
    return {
        "solve_s": round(solve_s, 3),
        "peak_rss_mb_after_solve": round(rss_solve, 1),
        "states": sol.stats["states"],
        "actions": sol.stats["actions"],
        "priced_policies": sol.stats["policies"],
        "hindsight_seed0_s": round(hind_s, 3),
        "hindsight_seed0": h,
        "peak_rss_mb_total": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2])))
        return
    out = {}
    for name in NAMES:
        proc = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, check=True)
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["goal"] = {"solve_s": 60, "peak_rss_mb": 2048}
    out["met"] = all(v["solve_s"] <= 60 and v["peak_rss_mb_after_solve"] <= 2048
                     for k, v in out.items() if k in NAMES)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
