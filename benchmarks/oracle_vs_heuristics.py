"""Does the DP oracle beat every heuristic on every built-in scenario? One JSON object on stdout.

For each built-in scenario (``configs/scenarios``) where the oracle applies (a concrete scenario: no
``randomize``; not the seed-compatible sync mode) and for the bursty-deadline-solar example of
``benchmarks/optimal.py`` without and with the skip action: the mean weighted accuracy over the same seeds
(one seed for a seed-compatible scenario, which replays one stream) of the oracle and of every heuristic,
the best heuristic, ``margin = oracle - best`` (points) and ``ok = margin >= 0``. Scenarios the oracle does
not apply to are listed under ``skipped`` with the reason.

    .venv/bin/python benchmarks/oracle_vs_heuristics.py [--seeds N] [--first-seed S] [--scenarios A,B]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def one(sc: Any, seeds: list[int]) -> dict[str, Any]:
    """Oracle and heuristics on ``sc`` over ``seeds``."""
    import numpy as np

    import baselines
    from tinysim_gym.core.engine import Engine
    from tinysim_gym.errors import TinySimError
    from tinysim_gym.optimal.oracle import solve
    from tinysim_gym.optimal.selector import OracleSelector

    t0 = time.perf_counter()
    sol = solve(sc)
    oracle = float(np.mean([Engine(sc, chunk=1 << 16).run(OracleSelector(solution=sol), seed=s)["weighted_accuracy"]
                            for s in seeds]))
    means, refused = {}, {}
    for h in baselines.names():
        try:
            baselines.make(h, sc)
        except TinySimError as exc:  # a heuristic that refuses the scenario (too few models for its rules)
            refused[h] = str(exc)
            continue
        means[h] = float(np.mean([baselines.run_episode(sc, baselines.make(h, sc), seed=s)["weighted_accuracy"]
                                  for s in seeds]))
    best = max(means, key=lambda h: means[h])
    return {"seeds": seeds, "oracle": round(oracle, 4), "best_heuristic": best, "best": round(means[best], 4),
            "margin": round(oracle - means[best], 4), "ok": oracle >= means[best],
            "heuristics": {h: round(v, 4) for h, v in means.items()}, "refused": refused,
            "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    from optimal import BURSTY_DEADLINE_SOLAR

    from tinysim_gym.config import builtin_names, load_scenario
    from tinysim_gym.errors import TinySimError

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3, help="seeds per scenario (default 3)")
    p.add_argument("--first-seed", type=int, default=0, help="first seed (the suite evaluates 1000..1019)")
    p.add_argument("--scenarios", default="", help="comma-separated names (default: every built-in and the example)")
    args = p.parse_args()
    cases: dict[str, Any] = {name: load_scenario(name) for name in builtin_names("scenarios")}
    cases["bursty-deadline-solar"] = load_scenario(BURSTY_DEADLINE_SOLAR)
    cases["bursty-deadline-solar+skip"] = load_scenario(BURSTY_DEADLINE_SOLAR, allow_skip=True)
    if args.scenarios:
        cases = {n: cases[n] for n in args.scenarios.split(",")}
    out: dict[str, Any] = {"scenarios": {}, "skipped": {}}
    for name, sc in cases.items():
        if sc.randomize:
            out["skipped"][name] = "randomize: every episode is another scenario (no single solution)"
            continue
        seeds = [0] if sc.seed_compat else list(range(args.first_seed, args.first_seed + args.seeds))
        try:
            out["scenarios"][name] = one(sc, seeds)
        except TinySimError as exc:
            out["skipped"][name] = str(exc)
        print(f"{name}: {out['scenarios'].get(name, out['skipped'].get(name))}", file=sys.stderr)
    out["all_ok"] = all(v["ok"] for v in out["scenarios"].values())
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
