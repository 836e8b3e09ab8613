"""Step-rate benchmark: TinySim-v0 (unwrapped) against CartPole-v1 in the same run, and the batched vector env.

Prints one JSON object. Single-env rates are medians over ``--repeats`` interleaved repeats of ``--steps``
steps each (the default env, the goal's figure, and beside it the same env with ``full_info=False``, whose
per-step info is empty) (a fixed pseudo-random action sequence, resetting when an episode ends, the way a training loop
does); the vector env's rate counts decisions (sub-env steps) per second of a single thread. Rates are given
per wall-clock second (the targets) and, for a shared machine, per CPU second of this process.

Usage: python benchmarks/env_step.py [--steps 100000] [--repeats 5] [--num-envs 1024] [--vec-steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym
import numpy as np
from goals import figure  # beside this script

import tinysim_gym  # noqa: F401  (registers the ids)

RATIO_GOAL = 4.0  # TinySim-v0 unwrapped steps per second / CartPole-v1's, in the same run
BATCHED_GOAL = 5e6  # decisions per second of the batched env on one core


def single_rate(env: gym.Env, actions: np.ndarray) -> tuple[float, float]:
    """Unwrapped steps per wall second and per CPU second (resets excluded from the count, not the time)."""
    env.reset(seed=0)
    step = env.step
    acts = actions.tolist()
    t0, c0 = time.perf_counter(), time.process_time()
    for a in acts:
        _, _, terminated, truncated, _ = step(a)
        if terminated or truncated:
            env.reset()
    return len(acts) / (time.perf_counter() - t0), len(acts) / (time.process_time() - c0)


def vector_rate(venv, steps: int, rng: np.random.Generator) -> tuple[float, float]:
    """Decisions per wall second and per CPU second of the batched env (num_envs decisions per call)."""
    n = venv.num_envs
    acts = rng.integers(0, venv.single_action_space.n, size=(steps, n))
    venv.reset(seed=0)
    venv.step(acts[0])  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for a in acts:
        venv.step(a)
    return steps * n / (time.perf_counter() - t0), steps * n / (time.process_time() - c0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--num-envs", type=int, default=1024)
    p.add_argument("--vec-steps", type=int, default=300)
    p.add_argument("--scenario", default="usps-l476-async-horizon")
    args = p.parse_args(argv)

    rng = np.random.default_rng(12345)
    # one decision per step and no step limit: the registered ids set 16 and a limit for RL runs
    plain = {"decisions_per_step": 1, "max_steps": None}
    tiny_env = gym.make("TinySim-v0", scenario=args.scenario, **plain).unwrapped
    lean_env = gym.make("TinySim-v0", scenario=args.scenario, full_info=False, **plain).unwrapped
    cart = gym.make("CartPole-v1").unwrapped
    tiny_actions = rng.integers(0, tiny_env.action_space.n, size=args.steps)
    cart_actions = rng.integers(0, 2, size=args.steps)
    single_rate(tiny_env, tiny_actions[:2000])  # compile / warm up all three
    single_rate(lean_env, tiny_actions[:2000])
    single_rate(cart, cart_actions[:2000])
    tiny, lean, cart_ = [], [], []
    for _ in range(args.repeats):  # interleaved, so all see the same machine load
        tiny.append(single_rate(tiny_env, tiny_actions))
        lean.append(single_rate(lean_env, tiny_actions))
        cart_.append(single_rate(cart, cart_actions))
    t_wall, t_cpu = (statistics.median(x) for x in zip(*tiny, strict=True))
    l_wall, l_cpu = (statistics.median(x) for x in zip(*lean, strict=True))
    c_wall, c_cpu = (statistics.median(x) for x in zip(*cart_, strict=True))

    venv = gym.make_vec("TinySim-v0", num_envs=args.num_envs, scenario=args.scenario, **plain)
    vec = [vector_rate(venv, args.vec_steps, rng) for _ in range(args.repeats)]
    v_wall, v_cpu = (statistics.median(x) for x in zip(*vec, strict=True))

    out = {
        "benchmark": "env_step",
        "figures": {
            "TinySim-v0 step rate / CartPole-v1 (unwrapped, same run)": figure(
                t_wall / c_wall, RATIO_GOAL, "x", higher_is_better=True,
                tinysim_us_per_step=round(1e6 / t_wall, 3), cartpole_us_per_step=round(1e6 / c_wall, 3)),
            "batched env decisions per second (one core)": figure(
                v_wall, BATCHED_GOAL, "decisions/s", higher_is_better=True, num_envs=args.num_envs),
        },
        "scenario": args.scenario,
        "steps_per_repeat": args.steps,
        "repeats": args.repeats,
        "single_env": {
            "tinysim_steps_per_s": round(t_wall),
            "cartpole_steps_per_s": round(c_wall),
            "ratio_vs_cartpole": round(t_wall / c_wall, 3),
            "ratio_vs_cartpole_cpu_time": round(t_cpu / c_cpu, 3),
            "full_info_false_ratio_vs_cartpole": round(l_wall / c_wall, 3),
            "full_info_false_ratio_vs_cartpole_cpu_time": round(l_cpu / c_cpu, 3),
            "full_info_false_us_per_step": round(1e6 / l_wall, 3),
            "target_ratio": RATIO_GOAL,
            "meets_target": t_wall / c_wall >= RATIO_GOAL,
            "tinysim_us_per_step": round(1e6 / t_wall, 3),
            "cartpole_us_per_step": round(1e6 / c_wall, 3),
        },
        "vector_env": {
            "num_envs": args.num_envs,
            "decisions_per_s": round(v_wall),
            "decisions_per_cpu_s": round(v_cpu),
            "target": BATCHED_GOAL,
            "meets_target": v_wall >= BATCHED_GOAL,
            "threads": "one (a serial numba kernel)",
        },
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
