"""Time ``compare`` on the eight published cases plus the training scenario (all baselines, one seed).

Prints one JSON object: seconds per scenario, the total, and the process count. Target: total < 30 s.

    .venv/bin/python benchmarks/compare.py [--processes N] [--seeds N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from goals import figure  # beside this script

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CASES = ["sync_1", "sync_2", "async_1", "async_2", "async_3", "async_4", "acc_first", "lat_first",
         "usps-l476-async-horizon"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    import baselines
    from tinysim_gym.experiments.compare import compare
    from tinysim_gym.experiments.pool import LocalPool

    t_import = time.perf_counter() - t0
    per: dict[str, float] = {}
    best: dict[str, dict[str, float]] = {}
    pool = LocalPool(args.processes)  # one set of workers for every scenario, as a long-lived service would keep
    try:
        for case in CASES:
            t = time.perf_counter()
            rows = compare(case, seeds=args.seeds, progress=False, pool=pool, usage_policy=None,
                           registry=baselines)
            per[case] = round(time.perf_counter() - t, 3)
            top = max(rows[:-1], key=lambda r: r["weighted_accuracy"])
            best[case] = {"best_policy": top["policy"], "best": round(top["weighted_accuracy"], 4),
                          "bound": round(rows[-1]["weighted_accuracy"], 4)}
    finally:
        pool.close()
    total = time.perf_counter() - t0
    print(json.dumps({
        "benchmark": "compare",
        "scenarios": len(CASES),
        "policies": len(baselines.names()),
        "seeds": args.seeds,
        "processes": args.processes,
        "import_s": round(t_import, 3),
        "seconds": per,
        "total_s": round(total, 3),
        "target_s": 30,
        "ok": total < 30,
        "figures": {"compare: eight cases x every baseline, with the bound": figure(total, 30.0, "s")},
        "best_vs_bound": best,
    }, indent=2))


if __name__ == "__main__":
    main()
