"""``full_info=False``: the same episode as the default env, with empty per-step infos."""

from __future__ import annotations

import numpy as np
import pytest

from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.errors import ConfigError

SMALL = {"battery": {"capacity_mah": 0.002}}  # episodes of a few hundred decisions


def test_lean_info_gives_the_same_episode_with_empty_infos():
    full = TinySimEnv(scenario_overrides=SMALL, obs_last_action=True)
    lean = TinySimEnv(scenario_overrides=SMALL, obs_last_action=True, full_info=False)
    obs_f, info_f = full.reset(seed=4)
    obs_l, info_l = lean.reset(seed=4)
    assert obs_f.tobytes() == obs_l.tobytes() and info_l == {} and "soc" in info_f
    rng = np.random.default_rng(1)
    steps = 0
    while True:
        a = int(rng.integers(full.action_space.n))
        o1, r1, t1, tr1, i1 = full.step(a)
        o2, r2, t2, tr2, i2 = lean.step(a)
        assert o1.tobytes() == o2.tobytes() and (r1, t1, tr1) == (r2, t2, tr2)
        assert not np.shares_memory(o2, lean._obs)  # the caller may keep it: the kernel's buffer is not handed out
        steps += 1
        if t1:
            break
        assert i2 == {}
    assert steps > 50
    assert set(i2) == {"episode_metrics", "weighted_accuracy"}
    assert i2["episode_metrics"] == i1["episode_metrics"]
    assert i2["weighted_accuracy"] == i1["weighted_accuracy"]
    # the running counters the full info carries stay readable on the engine
    assert lean.engine.inferences == i1["inferences"] and lean.engine.dropped == i1["dropped"]


def test_full_info_must_be_a_bool():
    with pytest.raises(ConfigError, match="env.full_info: expected true or false"):
        TinySimEnv(full_info="no")
