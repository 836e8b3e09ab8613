"""``make demo``'s figures: its training wall time and how far its agent lands below the bound.

Prints one JSON object. Trains as ``tinysim demo`` does (PPO on ``usps-l476-async-horizon`` with the demo's
settings, :data:`tinysim_gym.cli.demo.DEMO_HYPERPARAMS`, 150k steps) once per ``--train-seeds`` seed, then
evaluates each run's best checkpoint on the demo's evaluation seeds 0..2 beside the bound (the LP optimum,
which the DP oracle reaches on this scenario). The figures are the medians over the training seeds, with
every seed's own figures beside them: the goal holds for the median run, and the spread says how often a
single ``make demo`` meets it.

Usage: ``python benchmarks/demo_gap.py [--train-seeds 0,1,2] [--timesteps 150000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

from goals import figure  # beside this script

from agents.evaluation import evaluate_agent
from agents.loading import load_agent
from agents.training import train
from tinysim_gym.cli.demo import demo_overrides

SCENARIO = "usps-l476-async-horizon"
WALL_GOAL_S = 60.0
GAP_GOAL = 0.1


def one_run(seed: int, timesteps: int, log_dir: str) -> dict[str, float]:
    """Train one demo run and score its best checkpoint on seeds 0..2 against the bound."""
    cpu = time.process_time()
    result = train(algo="ppo", scenario=SCENARIO, timesteps=timesteps, seed=seed, log_dir=log_dir,
                   overrides=demo_overrides("ppo", SCENARIO))
    cpu = time.process_time() - cpu
    agent = load_agent(result.files.get("best", result.files["final"]))
    rows = evaluate_agent(agent, seeds=3, baselines=False, usage_points=0)
    wa = next(r["weighted_accuracy"] for r in rows if r["policy"] == agent.label)
    bound = rows[-1]["weighted_accuracy"]
    return {"train_seed": seed, "training_wall_s": round(result.elapsed_s, 2),
            # training runs torch on one thread: on a shared machine its CPU time is what a quiet one's wall
            # time would be, give or take the imports
            "training_cpu_s": round(cpu, 2), "agent": round(wa, 3),
            "bound": round(bound, 3), "gap": round(bound - wa, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-seeds", default="0,1,2", help="comma-separated training seeds (default 0,1,2)")
    p.add_argument("--timesteps", type=int, default=150_000, help="training steps per run (the demo's default)")
    args = p.parse_args(argv)
    try:
        seeds = [int(s) for s in args.train_seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--train-seeds: expected comma-separated integers, got {args.train_seeds!r}")
    if not seeds:
        p.error("--train-seeds: at least one seed is needed")
    with tempfile.TemporaryDirectory() as d:
        runs = [one_run(s, args.timesteps, d) for s in seeds]
    wall = statistics.median(r["training_wall_s"] for r in runs)
    gap = statistics.median(r["gap"] for r in runs)
    out = {
        "benchmark": "demo_gap",
        "figures": {
            "make demo: training wall time (median run)": figure(wall, WALL_GOAL_S, "s", timesteps=args.timesteps),
            "make demo: points below the bound (median run)": figure(gap, GAP_GOAL, "points",
                                                                      eval_seeds=[0, 1, 2]),
        },
        "runs": runs,
        "runs_within_goal": sum(r["gap"] <= GAP_GOAL and r["training_wall_s"] <= WALL_GOAL_S for r in runs),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
