"""``tinysim train``: train a stable-baselines3 agent on a scenario, with TensorBoard logs and checkpoints.

Runs go to ``<log-dir>/<scenario>/<algo>_<n>`` (default log dir: ``runs``). Hyperparameters come from
``configs/zoo/<algo>.yml``, the file rl-baselines3-zoo reads: the zoo entry of the scenario's env id, with
the scenario's section of the file's ``tinysim-train`` block over it; ``--hyperparams KEY=VALUE``
overrides single keys (``env_kwargs.decisions_per_step=64``, ``learning_rate=lin_1e-3``).
``--resume RUN_DIR`` continues a run from its latest checkpoint, on the same TensorBoard curve and step
count, up to ``--timesteps`` (the run's total; default: the total it was started with). Resuming loads the
optimiser state from the checkpoint's SB3 zip, a pickle that can run code, so it needs ``--trust-pickle``.

Examples::

    tinysim train --algo ppo --scenario usps-l476-async-horizon
    tinysim train --resume runs/usps-l476-async-horizon/ppo_1 --timesteps 2000000 --trust-pickle
    tensorboard --logdir runs
"""

from __future__ import annotations

import argparse
import sys

from tinysim_gym.cli.common import progress_bar
from tinysim_gym.errors import TinySimError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = sub.add_parser("train", help="train an RL agent (PPO, A2C, DQN, MaskablePPO)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", help="ppo, a2c, dqn or maskable_ppo")
    p.add_argument("--scenario", help="built-in scenario name or YAML path")
    p.add_argument("--timesteps", type=int, metavar="N", help="total training steps (default: the file's n_timesteps)")
    p.add_argument("--seed", type=int, default=0, help="seed of the model and the training envs (default 0)")
    p.add_argument("--log-dir", default="runs", metavar="DIR", help="parent of the run directories (default: runs)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue this run from its latest checkpoint (needs --trust-pickle)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow --resume to unpickle the run's SB3 checkpoint (it holds the optimiser state; "
                        "unpickling runs any code the file names, so only for runs you trust)")
    p.add_argument("--hyperparams", nargs="+", metavar="KEY=VALUE", help="override hyperparameters (YAML values)")
    p.add_argument("--hyperparams-file", metavar="FILE",
                   help="zoo hyperparameter file instead of configs/zoo/<algo>.yml")
    p.add_argument("--quiet", action="store_true", help="print only the final summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train and print where the run went."""
    from agents import hyperparams as H
    from agents.training import train

    if args.resume is None and args.algo is None:
        raise TinySimError(f"train: --algo is required (allowed: {', '.join(H.ALGOS)})")
    if args.resume is None and args.scenario is None:
        raise TinySimError("train: --scenario is required")
    overrides = H.parse_overrides(args.hyperparams)

    def report(msg: str) -> None:
        if not args.quiet:
            print(msg, flush=True)

    update, close = progress_bar(desc="training")
    try:
        result = train(algo=args.algo, scenario=args.scenario, timesteps=args.timesteps, seed=args.seed,
                       log_dir=args.log_dir, hyperparams_file=args.hyperparams_file, overrides=overrides,
                       resume=args.resume, report=report, progress=update, trust_pickle=args.trust_pickle)
    finally:
        close()
    best = "-" if result.best_weighted_accuracy is None else f"{result.best_weighted_accuracy:.3f} %"
    print(f"run {result.run_dir}: {result.algo} on {result.scenario}, {result.num_timesteps} steps in "
          f"{result.elapsed_s:.0f} s; best held-out weighted accuracy {best}")
    for name, path in result.files.items():
        print(f"  {name:<5} {path}")
    print(f"evaluate: tinysim evaluate --agent {result.files.get('best', result.files['final'])} --seeds 5")
    print(f"watch:    tensorboard --logdir {result.run_dir.parent.parent}")
    sys.stdout.flush()
    return 0
