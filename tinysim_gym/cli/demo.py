"""``tinysim demo``: the main job in a few minutes on the built-in training scenario.

A short PPO training run on ``usps-l476-async-horizon`` (energy pacing over a 50 s horizon), then the
trained agent next to every baseline and the optimal-policy bound on held-out seeds: the table is printed,
and the run directory gets the TensorBoard logs, ``evaluation.csv`` and ``evaluation.png``. The last line is
the ``tensorboard --logdir`` command that opens the curves. The trained agent is evaluated from its safe-format
pair (``best_model.safetensors`` + ``best_model.agent.json``), as ``tinysim evaluate`` loads it.

The full-length, documented training commands are in ``agents/README.md``; this run is shorter, so its
agent is good but not the tuned result.
"""

from __future__ import annotations

import argparse
import time

from tinysim_gym.cli.common import progress_bar
from tinysim_gym.errors import TinySimError

# The demo's own settings over the scenario's documented ones (configs/zoo/ppo.yml, tuned for 600k steps):
# the pacing task's recipe (configs/suite/pacing.yaml: undiscounted returns, no entropy bonus, 512-step
# rollouts, per-model features) with a faster learning rate and a held-out check every 10k steps, so the best
# greedy checkpoint of a short run is kept. With these, 150k steps of training seeds 0, 1 and 2 scored 0.122,
# 0.043 and 0.042 points below the bound on the demo's evaluation seeds (benchmarks/demo_gap.py); the
# scenario's own settings left 0.13 points.
DEMO_HYPERPARAMS: dict[str, object] = {
    "n_steps": 512, "gamma": 1.0, "gae_lambda": 0.98, "ent_coef": 0.0, "learning_rate": "lin_1e-3",
    "eval_freq": 10_000, "env_kwargs": {"max_models": 10, "obs_model_features": True},
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = sub.add_parser("demo", help="train an agent briefly and compare it with the baselines",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="usps-l476-async-horizon", help="training scenario (default: %(default)s)")
    p.add_argument("--algo", default="ppo", help="algorithm (default: %(default)s)")
    p.add_argument("--timesteps", type=int, default=150_000, metavar="N", help="training steps (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="evaluation seeds 0..N-1 (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default: %(default)s)")
    p.add_argument("--log-dir", default="runs", metavar="DIR", help="parent of the run directory (default: runs)")
    p.set_defaults(func=run)


def demo_overrides(algo: str, scenario: str) -> dict[str, object] | None:
    """:data:`DEMO_HYPERPARAMS` for PPO on the default scenario; None (the documented settings) otherwise."""
    return dict(DEMO_HYPERPARAMS) if (algo, scenario) == ("ppo", "usps-l476-async-horizon") else None


def run(args: argparse.Namespace) -> int:
    """Train, evaluate, print the table and where everything went."""
    from agents.evaluation import evaluate_agent
    from agents.loading import load_agent
    from agents.training import train
    from tinysim_gym.experiments.plots import write_plots
    from tinysim_gym.experiments.table import format_table, write_csv

    if args.seeds < 1:
        raise TinySimError(f"--seeds: expected a count >= 1, got {args.seeds}")
    t0 = time.perf_counter()
    print(f"tinysim demo: {args.algo} on {args.scenario} for {args.timesteps} steps, then the agent against "
          f"every baseline and the bound on seeds 0..{args.seeds - 1}", flush=True)
    update, close = progress_bar(desc="training")
    try:
        result = train(algo=args.algo, scenario=args.scenario, timesteps=args.timesteps, seed=args.seed,
                       log_dir=args.log_dir, overrides=demo_overrides(args.algo, args.scenario),
                       report=lambda m: print(f"  {m}", flush=True), progress=update)
    finally:
        close()
    model_path = result.files.get("best", result.files["final"])
    agent = load_agent(model_path)
    rows = evaluate_agent(agent, seeds=args.seeds, progress=True)
    csv_path = write_csv(rows, result.run_dir / "evaluation.csv")
    png_path = write_plots(rows, result.run_dir / "evaluation.png", policy=agent.label,
                           title=f"{result.scenario}: {agent.label} after {result.num_timesteps} steps")
    print()
    print(format_table(rows))
    print()
    agent_row = next(r for r in rows if r["policy"] == agent.label)
    others = [r for r in rows if r["policy"] not in (agent.label, "bound", "budget")]
    best = max(others, key=lambda r: r["weighted_accuracy"])
    bound = rows[-1]["weighted_accuracy"]
    wa = agent_row["weighted_accuracy"]
    print(f"agent {wa:.3f} %  |  best heuristic not given the bound ({best['policy']}) "
          f"{best['weighted_accuracy']:.3f} %  |  bound {bound:.3f} %  (gap {bound - wa:.3f} points)")
    print(f"model:   {model_path}")
    print(f"table:   {csv_path}")
    print(f"plot:    {png_path}")
    print(f"done in {time.perf_counter() - t0:.0f} s; open the training curves with:")
    print(f"  tensorboard --logdir {result.run_dir.parent.parent}")
    return 0
