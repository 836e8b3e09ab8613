"""The agents shipped with the package: ``pretrained:<task>`` loads from the safe pair alone and plays its task."""

from __future__ import annotations

import numpy as np
import pytest

from agents.evaluation import run_agent
from agents.loading import load_agent
from agents.pretrained import ROOT, pretrained_tasks
from agents.safe_agent import SafeAgent
from tinysim_gym.config.suite import load_task, task_names
from tinysim_gym.envs.suite_env import make_task_env
from tinysim_gym.errors import TinySimError

SHIPPED = pretrained_tasks()


def test_shipped_agents_are_suite_tasks_in_the_safe_format_only() -> None:
    assert set(SHIPPED) <= set(task_names())
    for task in SHIPPED:
        files = sorted(p.name for p in (ROOT / task).iterdir())
        assert files == ["best_model.agent.json", "best_model.safetensors", "run.yaml"]  # no pickle shipped
        assert (ROOT / task / "best_model.safetensors").stat().st_size < 200_000


@pytest.mark.parametrize("task", SHIPPED)
def test_pretrained_agent_plays_its_task(task: str) -> None:
    agent = load_agent(f"pretrained:{task}")
    assert isinstance(agent.model, SafeAgent)
    env = make_task_env(task)
    assert agent.model.observation_space.shape == env.observation_space.shape
    assert agent.model.action_space.n == env.action_space.n
    t = load_task(task)
    metrics = run_agent(f"pretrained:{task}", t.scenario, 1000)
    # the episode ran to its end (a weak agent may score 0: the bursty one skips every sample)
    assert metrics["arrivals"] > 0 and 0.0 <= metrics["weighted_accuracy"] <= 100.0
    assert np.isfinite(metrics["energy_mah"])
    if task == SHIPPED[0]:  # greedy and seeded: reproducible
        assert run_agent(f"pretrained:{task}", t.scenario, 1000)["weighted_accuracy"] == metrics["weighted_accuracy"]


def test_unknown_pretrained_agent_is_one_line() -> None:
    with pytest.raises(TinySimError, match="no pretrained agent 'pretrained:nope'"):
        load_agent("pretrained:nope")
