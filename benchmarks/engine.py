"""Engine benchmark: the eight published cases in one process, and the original README's command.

Prints JSON. Targets: all eight together in at most 0.15 s; the README command (async, interval 3 ms,
100 mAh, reference; 14.6 M decisions) in at most 0.5 s in both modes (seed-compatible and default).
Timings are medians over repeats in this one process; the first call also loads numba's compiled cache
(reported separately as ``first_call_s``). The README command is also run once per mode on the general
kernels alone (``*_general_kernels_s``), the peer of the register loop, for a ratio measured in the same
process.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import numpy as np
from goals import figure  # beside this script

from baselines.original import AccuracyFirst, FuzzySelector, LatencyFirst, StaticSelector
from tinysim_gym.config import ScenarioConfig, load_scenario
from tinysim_gym.core.engine import Engine, run
from tinysim_gym.core.fast_static import general_loop

CASES = ["sync_1", "sync_2", "async_1", "async_2", "async_3", "async_4", "acc_first", "lat_first"]
SELECTORS = {"reference": lambda: StaticSelector(0), "fuzzy-tova": lambda: FuzzySelector("tova"),
             "accuracy-first": AccuracyFirst, "latency-first": LatencyFirst}
EIGHT_CASES_TARGET_S = 0.15
README_TARGET_S = 0.5


class GeneralKernels:
    """Model 0 on every decision, run by the general kernels' loop (the register loop's peer)."""

    def loop(self, view: Engine) -> tuple[Any, np.ndarray, np.ndarray]:
        """Compiled loop in the engine's ``loop`` form."""
        return general_loop, np.zeros(1), np.zeros(1)


def readme(seed_compat: bool) -> ScenarioConfig:
    """The original README's command: async_1 with a 3 ms interval and a 100 mAh battery."""
    return load_scenario("async_1", workload={"min_interval_ms": 3.0}, battery={"capacity_mah": 100.0},
                         seed_compat=seed_compat)


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main(repeats: int = 5) -> dict:
    first, _ = timed(lambda: run(load_scenario("sync_1", battery={"capacity_mah": 0.001}), StaticSelector(0)))
    for sc in (readme(True), readme(False)):  # loads the remaining compiled code before anything is timed
        run(load_scenario(sc.model_dump(), battery={"capacity_mah": 0.01}), StaticSelector(0), seed=0)
        run(load_scenario(sc.model_dump(), battery={"capacity_mah": 0.01}), GeneralKernels(), seed=0)
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
    out: dict[str, Any] = {
        "first_call_s": round(first, 3),
        "eight_cases_total_s_median": round(statistics.median(totals), 3),
        "eight_cases_target_s": EIGHT_CASES_TARGET_S,
        "per_case_s_median": {c: round(statistics.median(v), 4) for c, v in per_case.items()},
        "original_eight_cases_s": 18 * 60,
    }
    for key, seed_compat in (("readme_command", True), ("readme_command_default", False)):
        sc = readme(seed_compat)
        runs = [timed(lambda sc=sc: run(sc, StaticSelector(0), seed=0)) for _ in range(3)]
        fast_s = statistics.median(t for t, _ in runs)
        general_s, m_general = timed(lambda sc=sc: run(sc, GeneralKernels(), seed=0))
        assert m_general == runs[0][1], "the fixed-model loop and the general kernels disagree"
        out[f"{key}_s"] = round(fast_s, 3)
        out[f"{key}_target_s"] = README_TARGET_S
        out[f"{key}_decisions"] = runs[0][1]["inferences"]
        out[f"{key}_general_kernels_s"] = round(general_s, 3)
        out[f"{key}_speedup_vs_general_kernels"] = round(general_s / fast_s, 1)
    out["readme_command_original_s"] = 2 * 3600
    out["figures"] = {
        "eight published cases in one process": figure(out["eight_cases_total_s_median"], EIGHT_CASES_TARGET_S, "s"),
        "README command, seed-compatible": figure(out["readme_command_s"], README_TARGET_S, "s",
                                                  decisions=out["readme_command_decisions"]),
        "README command, default mode": figure(out["readme_command_default_s"], README_TARGET_S, "s",
                                               decisions=out["readme_command_default_decisions"]),
    }
    return {"benchmark": "engine", **out}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
