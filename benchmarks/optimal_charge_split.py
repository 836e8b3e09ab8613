"""Where a certified gap comes from: the same scenario with charge made free, side by side, JSON on stdout.

Per seed: the oracle and the hindsight bound on the scenario, and on a copy whose battery holds
``--free-mah`` (charge never binds there, so neither pacing nor its foresight plays a part). The gap of the
free copy is the worth of foreseeing the arrivals alone (queue and deadlines); the rest of the scenario's gap
comes with the charge: the oracle must pace for the load it expects, the hindsight bound knows whether this
seed's bursts will exhaust the battery.

    nice -n 10 .venv/bin/python benchmarks/optimal_charge_split.py [--scenario suite-bursty] [--seeds 5]
                                                                    [--first-seed 1000] [--free-mah 100]
                                                                    [--max-states 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main() -> None:
    from tinysim_gym.config import load_scenario
    from tinysim_gym.optimal.ladder import ladder
    from tinysim_gym.optimal.penalty_fit import penalised_bound

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="suite-bursty", help="a horizon scenario on a battery")
    p.add_argument("--seeds", type=int, default=5, help="seeds (default 5)")
    p.add_argument("--first-seed", type=int, default=1000, help="first seed (default 1000)")
    p.add_argument("--free-mah", type=float, default=100.0, help="battery of the free copy (default 100 mAh)")
    p.add_argument("--max-states", type=int, default=0, help="exact FIFO states per seed (default 0: relaxation)")
    args = p.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    base = load_scenario(args.scenario)
    if base.battery is None or base.storage is not None or base.horizon_ms is None:
        sys.exit("optimal_charge_split: the scenario needs a horizon and a battery")
    free = base.model_copy(update={"battery": base.battery.model_copy(update={"capacity_mah": args.free_mah})})
    out: dict[str, dict[str, object]] = {}
    for name, sc in (("scenario", base), ("free_charge", free)):
        oracle = ladder(sc, seeds, observed=False, hindsight=False)["oracle_runs"]
        hind = penalised_bound(sc, seeds, None, args.max_states).per_seed
        out[name] = {"oracle": [round(v, 4) for v in oracle], "hindsight": [round(v, 4) for v in hind],
                     "gap": [round(h - o, 4) for h, o in zip(hind, oracle, strict=True)],
                     "mean_gap": round(float(np.mean(hind) - np.mean(oracle)), 4)}
        print(f"{name}: {out[name]}", file=sys.stderr, flush=True)
    split = {"arrivals_foresight": out["free_charge"]["mean_gap"],
             "with_the_charge": round(float(out["scenario"]["mean_gap"]) - float(out["free_charge"]["mean_gap"]), 4)}
    print(json.dumps({"scenario": args.scenario, "seeds": seeds, "free_mah": args.free_mah, **out, "split": split},
                     indent=1))


if __name__ == "__main__":
    main()
