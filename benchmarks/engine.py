"""Engine benchmark: the eight published cases in one process, and the original README's command.

Prints JSON. Targets (fast enough to rerun the published cases at will): all eight together under 2 s;
the README command (async, interval 3 ms, 100 mAh, reference) under 5 s. Timings are medians over
repeats in this one process; the first call also loads numba's compiled cache (reported separately as
``first_call_s``).
"""

from __future__ import annotations

import json
import statistics
import time

from baselines.original import AccuracyFirst, FuzzySelector, LatencyFirst, StaticSelector
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import run

CASES = ["sync_1", "sync_2", "async_1", "async_2", "async_3", "async_4", "acc_first", "lat_first"]
SELECTORS = {"reference": lambda: StaticSelector(0), "fuzzy-tova": lambda: FuzzySelector("tova"),
             "accuracy-first": AccuracyFirst, "latency-first": LatencyFirst}


def main(repeats: int = 3) -> dict:
    t0 = time.perf_counter()
    run(load_scenario("sync_1", battery={"capacity_mah": 0.001}), StaticSelector(0))
    first = time.perf_counter() - t0
    per_case: dict[str, list[float]] = {c: [] for c in CASES}
    totals = []
    for _ in range(repeats):
        t_all = time.perf_counter()
        for case in CASES:
            sc = load_scenario(case)
            t = time.perf_counter()
            run(sc, SELECTORS[sc.selector]())
            per_case[case].append(time.perf_counter() - t)
        totals.append(time.perf_counter() - t_all)
    readme = load_scenario("async_1", workload={"min_interval_ms": 3.0}, battery={"capacity_mah": 100.0})
    t = time.perf_counter()
    m = run(readme, StaticSelector(0))
    readme_s = time.perf_counter() - t
    return {
        "first_call_s": round(first, 3),
        "eight_cases_total_s_median": round(statistics.median(totals), 3),
        "eight_cases_target_s": 2.0,
        "per_case_s_median": {c: round(statistics.median(v), 4) for c, v in per_case.items()},
        "original_eight_cases_s": 18 * 60,
        "readme_command_s": round(readme_s, 3),
        "readme_command_target_s": 5.0,
        "readme_command_decisions": m["inferences"],
        "readme_command_original_s": 2 * 3600,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
