"""RL agents for TinySim: stable-baselines3 / sb3-contrib training, callbacks and evaluation.

* :mod:`agents.hyperparams`: the rl-baselines3-zoo files ``configs/zoo/<algo>.yml`` (:mod:`agents.zoo_format`).
* :mod:`agents.wrappers`: :class:`~agents.wrappers.ObjectiveReward`, the reward shaping for the
  long-horizon credit problem.
* :mod:`agents.rollout`: deterministic episodes on fixed seeds (all stepped together) and the figures logged
  of them; it knows nothing of training.
* :mod:`agents.callbacks`: per-episode ``tinysim/`` TensorBoard scalars, held-out evaluation, checkpoints
  (SB3 and rollout only).
* :mod:`agents.run_dir`: a run directory's ``run.yaml`` and checkpoints.
* :mod:`agents.training`: :func:`~agents.training.train` (and resume).
* :mod:`agents.safe_format` (with ``safe_description``, ``safe_agent``): saved agents that load without
  running code.
* :mod:`agents.loading`: :func:`~agents.loading.load_agent`, the safe pair (a raw SB3 zip only if trusted).
* :mod:`agents.evaluation`: a saved agent next to the baselines and the bound (rollout and training).

Imports run one way: evaluation -> loading, training -> callbacks -> rollout.

See ``agents/README.md`` for the design choices and the reproduced results.
"""

from agents.hyperparams import ALGOS

__all__ = ["ALGOS", "evaluate_agent", "load_agent", "run_agent", "train"]


def __getattr__(name: str):  # lazy: importing agents does not import torch
    if name == "train":
        from agents import training

        return training.train
    if name == "load_agent":
        from agents import loading

        return loading.load_agent
    if name in ("evaluate_agent", "run_agent"):
        from agents import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
