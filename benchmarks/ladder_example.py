"""The optimality ladder of the bursty-deadline-solar example, without and with the skip action (JSON).

The example is ``benchmarks/optimal.py``'s (usps_tova on NUCLEO-L476RG, MMPP arrivals, a solar harvester,
a 4 ms deadline). For each variant: ``lp``, ``hindsight``, ``oracle``, ``upper``, ``certified_gap`` over
seeds ``0..N-1`` (:func:`tinysim_gym.optimal.ladder.ladder`), and the mean of the ``latency-first`` and
``deadline`` heuristics on the same seeds. Minutes per variant: the hindsight bound is an exact DP over
every tick of the 60 s horizon for each seed.

    .venv/bin/python benchmarks/ladder_example.py [--seeds N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    import numpy as np
    from optimal import BURSTY_DEADLINE_SOLAR

    import baselines
    from tinysim_gym.config import load_scenario
    from tinysim_gym.optimal.ladder import ladder

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    seeds = list(range(p.parse_args().seeds))
    out = {}
    for skip in (False, True):
        sc = load_scenario(BURSTY_DEADLINE_SOLAR, allow_skip=skip)
        row = ladder(sc, seeds, observed=False)
        for name in ("latency-first", "deadline"):
            row[name] = float(np.mean([baselines.run_episode(sc, baselines.make(name, sc), seed=s)["weighted_accuracy"]
                                       for s in seeds]))
        out["with_skip" if skip else "without_skip"] = row
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
