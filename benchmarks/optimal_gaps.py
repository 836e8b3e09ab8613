"""The certified optimality gap of the DP oracle per scenario: one JSON object on stdout.

For each scenario (default: the built-in scenarios the suite tasks and the training use, and the
bursty-deadline-solar example of ``benchmarks/optimal.py`` without and with the skip action) the ladder of
:func:`tinysim_gym.optimal.ladder.ladder` over the same seeds: ``lp``, ``hindsight`` (None until depletion),
``oracle``, ``upper = min(lp, hindsight)`` and ``certified_gap = upper - oracle`` (weighted accuracy
points), with the goal the scenario is held to (0.3 points on the stationary training scenarios, 1 point
on the others) and ``met``. The hindsight bound (an offline DP over every tick of each seed, up to a
minute per seed on a busy machine) is solved only where the LP alone leaves the gap above the goal.

    .venv/bin/python benchmarks/optimal_gaps.py [--seeds 20] [--first-seed 1000] [--scenarios A,B] [--lp-only]
                                                [--max-states N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

#: the stationary training scenarios (goal 0.3 points); every other scenario's goal is 1 point
TRAINING = ("usps-l476-async1", "usps-l476-async-horizon")
DEFAULT = (*TRAINING, "solar-l476-async-horizon", "suite-night", "suite-supercap", "suite-kws", "suite-bursty",
           "bursty-deadline-solar", "bursty-deadline-solar+skip")


def main() -> None:
    from optimal import BURSTY_DEADLINE_SOLAR

    from tinysim_gym.config import load_scenario
    from tinysim_gym.optimal.ladder import certificate, ladder
    from tinysim_gym.optimal.offline_fifo import MAX_STATES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=20, help="seeds per scenario (default 20)")
    p.add_argument("--first-seed", type=int, default=1000, help="first seed (default 1000, as the suite)")
    p.add_argument("--scenarios", default=",".join(DEFAULT), help="comma-separated names")
    p.add_argument("--lp-only", action="store_true", help="never solve the hindsight bound (seconds per seed)")
    p.add_argument("--max-states", type=int, default=MAX_STATES,
                   help=f"exact FIFO states per seed under a deadline before the relaxation (default {MAX_STATES})")
    args = p.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    out: dict[str, Any] = {}
    for name in args.scenarios.split(","):
        base = name.removesuffix("+skip")
        source = BURSTY_DEADLINE_SOLAR if base == "bursty-deadline-solar" else base
        sc = load_scenario(source, allow_skip=True) if base != name else load_scenario(source)
        t0 = time.perf_counter()
        goal = 0.3 if name in TRAINING else 1.0
        row = ladder(sc, seeds, observed=False, hindsight=False)
        if row["certified_gap"] > goal and not args.lp_only:  # the LP alone does not certify the goal
            row = certificate(sc, seeds, row["oracle"], hindsight=True, max_states=args.max_states)
        out[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
                     if k in ("lp", "hindsight", "oracle", "upper", "certified_gap")}
        out[name].update(goal=goal, met=row["certified_gap"] <= goal, seconds=round(time.perf_counter() - t0, 1))
        print(f"{name}: {out[name]}", file=sys.stderr)
    print(json.dumps({"seeds": seeds, "scenarios": out}, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
