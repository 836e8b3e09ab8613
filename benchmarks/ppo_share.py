"""Where PPO training time goes: the env's share of ``model.learn`` wall time (goal <= 5 %).

Prints one JSON object. Runs ``agents.training.train`` (PPO, ``configs/agents/ppo.yaml`` for the scenario)
for ``--timesteps`` steps with timers around the calls of the training loop, in this one process:

* ``env``: the outermost ``VecEnv.step`` (the batched env, its SB3 adapter and the reward and monitor
  wrappers), of which ``tinysim_vec_env`` is the adapter's ``step_wait`` alone;
* ``gradient``: ``PPO.train`` (the epochs of minibatch updates);
* ``rest``: ``learn`` minus both (the policy's forward pass while collecting, the rollout buffer, logging).

Usage: ``python benchmarks/ppo_share.py [--timesteps 16384] [--scenario usps-l476-async-horizon]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from goals import figure  # beside this script
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from agents.training import train
from agents.vec_env import TinySimVecEnv

ENV_SHARE_GOAL = 0.05


def timing(owner: type, name: str, totals: dict[str, float], key: str) -> Callable[[], None]:
    """Time every call of ``owner.name`` into ``totals[key]``; returns the function that undoes it."""
    original = getattr(owner, name)

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - t

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, original)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=int, default=16384)
    p.add_argument("--scenario", default="usps-l476-async-horizon")
    args = p.parse_args(argv)
    totals = {"learn": 0.0, "env": 0.0, "tinysim_vec_env": 0.0, "gradient": 0.0}
    undo = [timing(PPO, "learn", totals, "learn"), timing(VecEnv, "step", totals, "env"),
            timing(TinySimVecEnv, "step_wait", totals, "tinysim_vec_env"), timing(PPO, "train", totals, "gradient")]
    try:
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            result = train(algo="ppo", scenario=args.scenario, timesteps=args.timesteps, seed=0, log_dir=d)
            whole = time.perf_counter() - t
    finally:
        for u in undo:
            u()
    learn = totals["learn"]
    share = totals["env"] / learn
    out = {
        "benchmark": "ppo_share",
        "figures": {"env share of PPO training wall time": figure(share, ENV_SHARE_GOAL, "fraction",
                                                                 timesteps=result.num_timesteps)},
        "scenario": args.scenario,
        "learn_s": round(learn, 3),
        "train_call_s": round(whole, 3),
        "split_s": {
            "env (outermost VecEnv.step)": round(totals["env"], 3),
            "of which TinySimVecEnv.step_wait": round(totals["tinysim_vec_env"], 3),
            "gradient (PPO.train)": round(totals["gradient"], 3),
            "rest (policy forward while collecting, buffer, logging)":
                round(learn - totals["env"] - totals["gradient"], 3),
        },
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
