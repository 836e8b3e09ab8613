"""Exporting an SB3 agent: the copy acts as ``model.predict``, int8 and distilled forms keep its accuracy.

The PPO agent carries the hand-written pace ladder (tests.support.export_policies) as its weights, so its
decisions are those of an energy-pacing policy and the figures below are real: agreement on the states of
its own episodes, and weighted accuracy in simulation on the evaluation seeds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from sb3_contrib import MaskablePPO
from stable_baselines3 import A2C, DQN, PPO

from agents.export import agent_actions, export_agent, mlp_of
from agents.loading import Agent
from tests.support.export_policies import SHARP, SHORT_ENV, pace_ladder
from tinysim_gym.config import load_scenario
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.export import bundle
from tinysim_gym.export.states import visit
from tinysim_gym.export.verify import HostBuild

SCENARIO = load_scenario(SHORT_ENV["scenario"], horizon_ms=SHORT_ENV["horizon_ms"], battery=SHORT_ENV["battery"])
ENV = {"decisions_per_step": 16}
SEEDS, FIT = range(4), range(100, 108)


def _agent(cls: type, tmp: Path, ladder: bool = False) -> Agent:
    env = TinySimEnv({"scenario": SCENARIO, **ENV})
    kwargs = {"net_arch": [3], "activation_fn": nn.Tanh}
    model = cls("MlpPolicy", env, policy_kwargs=kwargs, seed=0, device="cpu", **({} if cls is DQN else {"n_steps": 16}))
    if ladder:
        (w1, b1), (w2, b2) = pace_ladder(4, soc=0, horizon=3, steepness=SHARP)
        with torch.no_grad():
            first, last = model.policy.mlp_extractor.policy_net[0], model.policy.action_net
            first.weight.copy_(torch.from_numpy(w1.T))
            first.bias.copy_(torch.from_numpy(b1))
            last.weight.copy_(torch.from_numpy(w2.T))
            last.bias.copy_(torch.from_numpy(b2))
    algo = {PPO: "ppo", A2C: "a2c", DQN: "dqn", MaskablePPO: "maskable_ppo"}[cls]
    return Agent(tmp / "model.zip", algo, model, None, {"scenario_config": SCENARIO, "env_config": ENV,
                                                        "hyperparams": {}})


@pytest.mark.parametrize("cls", [PPO, A2C, DQN, MaskablePPO])
def test_exported_network_acts_as_model_predict(cls: type, tmp_path: Path) -> None:
    agent = _agent(cls, tmp_path)
    mlp = mlp_of(agent)
    assert mlp.masked == (cls is MaskablePPO)
    rng = np.random.default_rng(1)
    obs = rng.uniform(0, 1, (2000, 4)).astype(np.float32)
    masks = rng.uniform(size=(2000, 10)) < 0.7
    masks[:, 1] = True
    assert np.array_equal(mlp.act(obs, masks), agent_actions(agent, mlp, obs, masks))


@pytest.fixture(scope="module")
def ladder_agent(tmp_path_factory: pytest.TempPathFactory) -> Agent:
    return _agent(PPO, tmp_path_factory.mktemp("agent"), ladder=True)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the host gcc")
def test_float_export_in_c_acts_as_the_agent(ladder_agent: Agent, tmp_path: Path) -> None:
    out = export_agent(ladder_agent, seeds=SEEDS, fit_seeds=FIT)
    assert out.report["agreement"] == 1.0 and out.report["accuracy_loss_points"] == 0.0
    bundle.write(out.export, tmp_path)
    states = visit(mlp_of(ladder_agent).act, ladder_agent.env_config(), SEEDS)
    hb = HostBuild(tmp_path)
    try:
        c = hb.act(states.obs)
    finally:
        hb.close()
    assert np.array_equal(c, agent_actions(ladder_agent, mlp_of(ladder_agent), states.obs, states.masks))
    assert len(np.unique(c)) >= 3


def test_int8_keeps_the_agents_decisions_and_accuracy(ladder_agent: Agent) -> None:
    r = export_agent(ladder_agent, quantize="int8", seeds=SEEDS, fit_seeds=FIT).report
    assert r["agreement"] >= 0.995
    assert abs(r["accuracy_loss_points"]) <= 0.1
    assert 80.0 < r["agent_weighted_accuracy"] < 94.08


@pytest.mark.parametrize("kind", ["tree", "table"])
def test_distilled_policy_stays_within_its_budget(ladder_agent: Agent, kind: str) -> None:
    out = export_agent(ladder_agent, distill=kind, seeds=SEEDS, fit_seeds=FIT)
    assert out.report["accuracy_loss_points"] <= 0.3
    assert out.report["agreement"] >= 0.9
    foot = out.export.manifest["footprint"]
    assert isinstance(foot, dict) and foot["policy_flash_bytes"] <= 2048
