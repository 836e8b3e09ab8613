"""ShuffleSlots: the padded slots of each episode in a random order, observation, actions and masks together."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.tiny_device import TINY_BOARD, TINY_PROFILE
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.model_features import PACING_FEATURES, SLOT_FEATURES
from tinysim_gym.envs.slot_shuffle import ShuffleSlots
from tinysim_gym.errors import ConfigError

K = 5
WIDTH = len(SLOT_FEATURES) + len(PACING_FEATURES)
SCENARIO = {"name": "tiny-shuffle", "board": TINY_BOARD, "profile": TINY_PROFILE,
            "workload": {"mode": "async", "min_interval_ms": 0.1, "arrival_probability": 0.5, "buffer_size": 4,
                         "timebase_ms": 0.01},
            "battery": {"capacity_mah": 1e-4, "initial_soc": 1.0}, "horizon_ms": 100.0, "seed_compat": False}


def make(**extra: object) -> TinySimEnv:
    return TinySimEnv(scenario=SCENARIO, max_models=K, obs_model_features="pacing", **extra)


def blocks(obs: np.ndarray) -> np.ndarray:
    return obs[4 : 4 + K * WIDTH].reshape(K, WIDTH)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_shuffled_episode_is_the_plain_one_with_its_slots_permuted(seed: int) -> None:
    plain, shuffled = make(), ShuffleSlots(make())
    op, _ = plain.reset(seed=seed)
    os_, info = shuffled.reset(seed=seed)
    perm = shuffled.perm
    assert sorted(perm[:3]) == [0, 1, 2] and list(perm[3:]) == [3, 4]  # missing slots stay last
    rng = np.random.default_rng(seed)
    for _ in range(80):
        np.testing.assert_array_equal(blocks(os_), blocks(op)[perm])
        np.testing.assert_array_equal(os_[:4], op[:4])
        np.testing.assert_array_equal(os_[-1], op[-1])
        np.testing.assert_array_equal(shuffled.action_masks(), plain.action_masks()[perm])
        np.testing.assert_array_equal(info["action_mask"], plain.action_masks()[perm].astype(np.int8))
        a = int(rng.integers(0, 3))
        os_, rs, ts, us, info = shuffled.step(a)
        op, rp, tp, up, _ = plain.step(int(perm[a]))
        assert (rs, ts, us) == (rp, tp, up)
        if ts or us:
            break
    assert list(shuffled.unwrapped.engine.model_counts) == list(plain.engine.model_counts)


def test_the_order_changes_between_episodes_and_is_reproducible() -> None:
    a, b = ShuffleSlots(make()), ShuffleSlots(make())
    orders = set()
    for seed in range(12):
        a.reset(seed=seed)
        b.reset(seed=seed)
        assert list(a.perm) == list(b.perm)
        orders.add(tuple(a.perm[:3]))
    assert len(orders) >= 4  # 6 orders of 3 models: a dozen episodes see most of them


def test_the_skip_is_not_shuffled() -> None:
    sc = {**SCENARIO, "allow_skip": True}
    env = ShuffleSlots(TinySimEnv(scenario=sc, max_models=K, obs_model_features="pacing"))
    env.reset(seed=4)
    assert env.action_masks()[-1]
    _, _, _, _, info = env.step(K)
    assert info["skipped"] == 1


def test_it_needs_the_padded_features() -> None:
    with pytest.raises(ConfigError, match="ShuffleSlots: needs env.max_models"):
        ShuffleSlots(TinySimEnv(scenario=SCENARIO))


def test_action_of_slot_inverts_the_episode_order() -> None:
    env = ShuffleSlots(make())
    for seed in range(4):
        env.reset(seed=seed)
        assert [env.action_of_slot(int(env.perm[a])) for a in range(K)] == list(range(K))
