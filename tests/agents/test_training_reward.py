"""What training sees: the suite tasks' shaped reward must rank fixed policies as the weighted accuracy does.

PPO maximises the return of the training env (the task's ``env`` block, the task's ``ObjectiveReward``), not
the leaderboard's weighted accuracy. If a fixed policy that is worse on the leaderboard earns a larger
return (skipping every sample, or spending the battery that the night needs), no amount of training helps.
"""

from __future__ import annotations

import numpy as np
import pytest


def _training_env(task_name: str):
    from agents import hyperparams as H
    from agents.factory import make_vec_env
    from tinysim_gym.config import load_scenario
    from tinysim_gym.experiments.suite.tasks import suite_tasks

    task = suite_tasks([task_name])[0]
    sc = load_scenario(task.scenario)
    hp, _ = H.load("ppo", sc.name, None, {**task.train, "env_kwargs": dict(task.env)})
    return make_vec_env("ppo", hp, sc.model_dump(mode="json"), 1, 10_000), sc


def _episode(venv, action: int) -> tuple[float, dict]:
    """The shaped return and the final figures of one episode that always takes ``action``."""
    venv.reset()
    total = 0.0
    while True:
        _, rew, dones, infos = venv.step(np.array([action]))
        total += float(rew[0])
        if dones[0]:
            return total, infos[0]["episode_metrics"]


def _fixed_policies(sc, venv) -> dict[str, int]:
    """Constant actions: the cheapest model (latency-first), the next one, the most accurate, and skip."""
    from tinysim_gym.core.engine import Engine

    costs = Engine(sc, chunk=1).model_costs()
    by_charge = np.argsort(costs.net_charge)
    out = {"cheapest": int(by_charge[0]), "second-cheapest": int(by_charge[1]),
           "most-accurate": int(np.argmax(costs.accuracy))}
    if venv.action_space.n > len(costs.net_charge):
        out["skip"] = int(venv.action_space.n) - 1
    return out


@pytest.mark.parametrize("task_name", ["bursty", "night"])
def test_training_return_orders_fixed_policies_as_the_weighted_accuracy(task_name):
    venv, sc = _training_env(task_name)
    results = {name: _episode(venv, a) for name, a in _fixed_policies(sc, venv).items()}
    by_return = sorted(results, key=lambda n: results[n][0])
    by_accuracy = sorted(results, key=lambda n: results[n][1]["weighted_accuracy"])
    assert by_return == by_accuracy, {n: (round(r, 2), round(m["weighted_accuracy"], 2))
                                      for n, (r, m) in results.items()}


def test_skipping_every_sample_is_charged_as_losing_it():
    """Skip-all: ``scale * (N * (0 - sample_value) - Phi(s0))`` with ``N`` the skipped samples (gamma 1)."""
    from agents.vec_env import TinySimVecEnv
    from agents.wrappers import ObjectiveReward
    from tinysim_gym.experiments.suite.tasks import suite_tasks

    task = suite_tasks(["bursty"])[0]
    inner = TinySimVecEnv(1, {**task.env, "scenario": task.scenario})
    venv = ObjectiveReward(inner, sample_value=0.9, battery_potential=20.0, gamma=1.0, scale=0.5)
    venv.seed(3)
    total, m = _episode(venv, int(venv.action_space.n) - 1)
    assert m["skipped"] > 1000 and m["inferences"] == 0
    lost = m["skipped"] + m["dropped"]
    assert total == pytest.approx(0.5 * (-0.9 * lost - 20.0), rel=1e-4)
