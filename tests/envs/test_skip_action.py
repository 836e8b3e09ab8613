"""The env's skip action: action space size, the mask's last entry, info and reward of a skip."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from tests.core.test_skip import tiny
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.vector_env import TinySimVectorEnv


def test_action_space_has_the_skip_last() -> None:
    env = TinySimEnv(scenario=tiny(), drop_penalty=0.5)
    assert env.action_space == gym.spaces.Discrete(3)
    _, info = env.reset(seed=0)
    assert info["action_mask"].tolist() == [1, 1, 1] and info["skipped"] == 0
    assert env.action_masks().tolist() == [True, True, True]
    _, reward, _, _, info = env.step(2)
    assert info["skipped"] == 1 and info["dropped"] == 0
    assert reward == pytest.approx(-0.5) and info["rewards"]["accuracy"] == 0.0  # a skip is a lost sample
    _, reward, _, _, info = env.step(1)
    assert reward == pytest.approx(0.70)
    assert info["weighted_accuracy"] == pytest.approx(70.0 / 2)  # one served, one skipped


def test_without_allow_skip_the_space_is_the_models() -> None:
    env = TinySimEnv(scenario=tiny(allow_skip=False))
    assert env.action_space == gym.spaces.Discrete(2)
    env.reset(seed=0)
    with pytest.raises(gym.error.InvalidAction):
        env.step(2)


def test_skip_is_masked_only_when_the_selector_cannot_be_paid() -> None:
    env = TinySimEnv(scenario=tiny(battery={"capacity_mah": 1.0}))
    env.reset(seed=0)
    env.engine.FS[0] = 0.5 * env.engine.skip_charge_mah  # less than one skip: nothing can run
    mask = env.action_masks()
    assert mask.tolist() == [False, True, False]  # never all False: the cheapest model stays allowed
    env.engine.FS[0] = 2.0 * env.engine.skip_charge_mah  # the skip, but no model
    assert env.action_masks().tolist() == [False, False, True]


def test_vector_env_matches_the_single_env_with_skips() -> None:
    venv = TinySimVectorEnv(num_envs=2, scenario=tiny(), drop_penalty=0.5)
    assert venv.single_action_space == gym.spaces.Discrete(3)
    venv.reset(seed=[0, 1])
    assert venv.action_masks().shape == (2, 3)
    env = TinySimEnv(scenario=tiny(), drop_penalty=0.5)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        a = int(rng.integers(3))
        _, r1, _, _, info1 = env.step(a)
        _, r2, _, _, info2 = venv.step(np.array([a, a]))
        assert r1 == pytest.approx(r2[0])
        assert info1["skipped"] == info2["skipped"][0] and info1["dropped"] == info2["dropped"][0]
        assert info1["weighted_accuracy"] == pytest.approx(info2["weighted_accuracy"][0])
