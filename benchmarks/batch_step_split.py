"""Where a batched env step's time goes: the compiled kernel alone, then each part of a whole step.

Prints one JSON object (no goal figures: ``benchmarks/env_step.py`` holds the goal). ``kernel_alone``
times :func:`~tinysim_gym.envs.kernels.batch_step` on a fixed batch (the state after a few steps, restored
before each repeat) with no Python around it; ``step_split`` times the parts of ``TinySimVectorEnv.step``
(the kernel, the info figures, their packing, the action check, the end bookkeeping, the rest) over
``--steps`` steps. Medians of ``--repeats``; on a shared machine read the shares, not the absolute rates.

Usage: python benchmarks/batch_step_split.py [--num-envs 1024] [--decisions-per-step 1] [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym
import numpy as np

import tinysim_gym  # noqa: F401  (registers the ids)
from tinysim_gym.envs import kernels as env_kernels
from tinysim_gym.envs import vector_env

KERNEL_STEPS = 20  # batched steps per kernel-alone repeat, from the same restored state


def kernel_alone(venv, reps: int, repeats: int, rng: np.random.Generator) -> float:
    """Median decisions per second of the kernel on a fixed batch (its state restored before each repeat)."""
    n = venv.num_envs
    arrays = (venv.ST, venv.FS, venv.PI, venv.PF, venv.ARR, venv.WK, venv.OBS)
    snapshot = [a.copy() for a in arrays]
    status0 = venv._status.copy()
    actions = rng.integers(0, venv.single_action_space.n, size=(KERNEL_STEPS, n))
    rew = np.zeros(n)
    times = []
    for _ in range(repeats + 1):  # the first compiles nothing (the env did) but warms the caches
        state = [a.copy() for a in snapshot]
        status = status0.copy()
        t0 = time.perf_counter()
        for a in actions:
            env_kernels.batch_step(*state, a, reps, venv.settings.drop_penalty, status, rew)
        times.append(time.perf_counter() - t0)
    return KERNEL_STEPS * n * reps / statistics.median(times[1:])


def _timed(owner: object, name: str, key: str, spent: dict[str, float]) -> Callable[[], None]:
    """Wrap ``owner.name`` so its calls add their time to ``spent[key]``; returns the undo."""
    inner = getattr(owner, name)

    def timed(*args: object, **kwargs: object) -> object:
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, inner)


def step_split(venv, steps: int, rng: np.random.Generator) -> dict[str, float]:
    """Decisions per second of whole steps and the share of each part (fractions of the step's time)."""
    spent: dict[str, float] = {}
    undo = [
        _timed(vector_env, "batch_step", "kernel", spent),
        _timed(vector_env, "step_ends", "step_ends", spent),
        _timed(vector_env, "packed", "info_packing", spent),
        _timed(venv, "_figures_of", "info_figures", spent),
        _timed(venv, "_actions", "action_check", spent),
    ]
    actions = rng.integers(0, venv.single_action_space.n, size=(steps, venv.num_envs))
    venv.step(actions[0])
    spent.clear()
    t0 = time.perf_counter()
    for a in actions:
        venv.step(a)
    total = time.perf_counter() - t0
    for u in undo:
        u()
    shares = {k: v / total for k, v in spent.items()}
    shares["other_python"] = 1.0 - sum(shares.values())
    return {"decisions_per_s": steps * venv.num_envs * venv.settings.decisions_per_step / total, **shares}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num-envs", type=int, default=1024)
    p.add_argument("--decisions-per-step", type=int, default=1)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--scenario", default="usps-l476-async-horizon")
    args = p.parse_args(argv)
    rng = np.random.default_rng(12345)
    venv = gym.make_vec("TinySim-v0", num_envs=args.num_envs, scenario=args.scenario,
                        decisions_per_step=args.decisions_per_step, max_steps=None).unwrapped
    venv.reset(seed=0)
    for _ in range(5):
        venv.step(rng.integers(0, venv.single_action_space.n, size=args.num_envs))
    alone = kernel_alone(venv, args.decisions_per_step, args.repeats, rng)
    splits = [step_split(venv, args.steps, rng) for _ in range(max(3, args.repeats // 5))]
    split = {k: round(statistics.median(s[k] for s in splits), 4) for k in splits[0]}
    out = {
        "benchmark": "batch_step_split",
        "scenario": args.scenario,
        "num_envs": args.num_envs,
        "decisions_per_step": args.decisions_per_step,
        "kernel_alone_decisions_per_s": round(alone),
        "kernel_alone_ns_per_decision": round(1e9 / alone, 2),
        "step_decisions_per_s": round(split.pop("decisions_per_s")),
        "step_shares": split,
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
