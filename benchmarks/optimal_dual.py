"""The hindsight bound with an information-relaxation penalty, and the certified gap it gives: JSON on stdout.

Per scenario (default suite-kws): the penalty table is fitted on the fitting seeds (default 0..4) by
:func:`tinysim_gym.optimal.penalty_fit.fit_penalty` (to its smallest step unless ``--fit-budget-s``; on a
copy shortened by ``--fit-scale``; one table per MMPP state at the window's end with ``--by-state``), or
read from ``--penalty`` (a JSON table), then measured on the evaluation seeds (default 1000..1019, the
suite's): the plain ``hindsight`` bound (unless ``--no-plain``), the penalised one (``dual``; an upper bound
in the mean only, so its standard error is reported), the ``oracle`` on the same seeds, and
``certified_gap = min(lp, dual) - oracle`` with the standard error of the paired per-seed differences.

    nice -n 5 .venv/bin/python benchmarks/optimal_dual.py [--scenarios suite-kws] [--seeds 20]
                                                          [--first-seed 1000] [--fit-seeds 5] [--fit-budget-s S]
                                                          [--max-sweeps N] [--fit-scale F] [--shared] [--by-state]
                                                          [--penalty FILE] [--no-plain] [--max-states N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main() -> None:
    from tinysim_gym.config import load_scenario
    from tinysim_gym.optimal.ladder import dual_rungs, ladder
    from tinysim_gym.optimal.lp import bound
    from tinysim_gym.optimal.offline_fifo import MAX_STATES
    from tinysim_gym.optimal.penalty_fit import fit_penalty, penalised_bound, read_penalty, shortened

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", default="suite-kws", help="comma-separated names (Poisson or MMPP, battery)")
    p.add_argument("--seeds", type=int, default=20, help="evaluation seeds (default 20)")
    p.add_argument("--first-seed", type=int, default=1000, help="first evaluation seed (default 1000)")
    p.add_argument("--fit-seeds", type=int, default=5, help="fitting seeds 0..N-1 (default 5)")
    p.add_argument("--fit-budget-s", type=float, default=float("inf"),
                   help="seconds for the fit (default: run it to its smallest step, whatever the machine's load)")
    p.add_argument("--max-sweeps", type=int, default=None, help="passes of the fit over the table (default: no cap)")
    p.add_argument("--fit-scale", type=float, default=1.0,
                   help="fit on a copy with horizon and battery scaled by this (default 1: the scenario itself)")
    p.add_argument("--shared", action="store_true", help="fit one row for every action (many models)")
    p.add_argument("--by-state", action="store_true", help="one table per MMPP state at the window's end")
    p.add_argument("--penalty", help="a JSON file holding the table (no fit; one scenario)")
    p.add_argument("--no-plain", action="store_true", help="skip the plain hindsight bound (its figure is known)")
    p.add_argument("--max-states", type=int, default=MAX_STATES,
                   help=f"exact FIFO states per seed before the occupancy relaxation (default {MAX_STATES})")
    args = p.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    fit_seeds = list(range(args.fit_seeds))
    if set(seeds) & set(fit_seeds):
        sys.exit("optimal_dual: --fit-seeds and the evaluation seeds must not overlap (the bound would be biased)")
    out = {}

    def report(seed: int, value: float) -> None:
        print(f"seed {seed}: dual {value:.4f}", file=sys.stderr, flush=True)

    for name in args.scenarios.split(","):
        sc = load_scenario(name)
        t0 = time.perf_counter()
        if args.penalty:
            h = read_penalty(args.penalty, sc)
        else:
            h = fit_penalty(shortened(sc, args.fit_scale) if args.fit_scale != 1.0 else sc, fit_seeds,
                            budget_s=args.fit_budget_s, shared=args.shared, max_states=args.max_states,
                            by_state=args.by_state, max_sweeps=args.max_sweeps)
        fit_s = time.perf_counter() - t0
        plain = None if args.no_plain else penalised_bound(sc, seeds, None, args.max_states)
        oracle = ladder(sc, seeds, observed=False, hindsight=False)["oracle_runs"]
        lp = float(bound(sc).weighted_accuracy)
        dual = dual_rungs(sc, seeds, oracle, lp, h, args.max_states, report)
        out[name] = {
            "lp": round(lp, 4),
            **({} if plain is None else {"hindsight": round(plain.mean, 4), "hindsight_se": round(plain.stderr, 4)}),
            "dual": round(dual["dual"], 4), "dual_se": round(dual["dual_se"], 4),
            "oracle": round(float(np.mean(oracle)), 4), "certified_gap": round(dual["dual_certified_gap"], 4),
            "certified_gap_se": round(dual["dual_certified_gap_se"], 4), "penalty": h.round(4).tolist(),
            # with the table, so this object is itself a --penalty file that refuses its own fitting seeds
            "fit_seeds": None if args.penalty else fit_seeds,
            "fit_s": round(fit_s, 1), "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"{name}: {out[name]}", file=sys.stderr)
    print(json.dumps({"seeds": seeds, "fit_seeds": None if args.penalty else fit_seeds, "scenarios": out}, indent=2))


if __name__ == "__main__":
    main()
