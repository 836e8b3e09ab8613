"""The single env's handle kernels: the same figures as the array kernels, copies that own their state."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tinysim_gym.core import kernels as K
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.handle_kernels import env_resume_at, env_step_at, state_handle
from tinysim_gym.envs.kernels import env_resume_into, env_step_into

SMALL = {"battery": {"capacity_mah": 0.004}}  # a few thousand decisions per episode


def test_handle_steps_equal_array_steps_bit_for_bit():
    env = TinySimEnv(scenario_overrides=SMALL, decisions_per_step=3)
    env.reset(seed=7)
    eng = env.engine
    a = [*env._arrays, env._out_i, env._out_f]  # stepped by the array kernels, refilled by the engine
    b = [x.copy() for x in a]  # stepped through a handle
    obs_a = np.empty(env._obs_dim, dtype=np.float32)
    obs_b = np.empty_like(obs_a)  # the handle's observation buffer
    handle = state_handle(*b, obs_b)
    rng = np.random.default_rng(0)
    steps = refills = 0
    status = K.DECISION
    while status != K.DONE:
        k = int(rng.integers(env.action_space.n))
        status = env_step_into(*a[:6], obs_a, k, 3, a[6], a[7])
        status_b = env_step_at(handle, k, 3)
        while status == K.NEED_ARRIVALS:
            assert status_b == status
            eng.refill_arrivals()
            b[0][:], b[4][:] = a[0], a[4]  # the same arrivals for both
            refills += 1
            status = env_resume_into(*a[:6], obs_a, a[6], a[7])
            status_b = env_resume_at(handle)
        assert status_b == status
        assert obs_a.tobytes() == obs_b.tobytes()
        assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))
        steps += 1
    assert steps > 100 and refills > 0


def test_a_deep_copy_steps_its_own_arrays():
    env = TinySimEnv(scenario_overrides=SMALL)
    env.reset(seed=3)
    for _ in range(50):
        env.step(1)
    clone = copy.deepcopy(env)
    before = env.engine.ST.copy()
    ours = [clone.step(2)[0] for _ in range(20)]
    assert env.engine.ST.tobytes() == before.tobytes()  # the original did not move
    theirs = [env.step(2)[0] for _ in range(20)]
    assert all(x.tobytes() == y.tobytes() for x, y in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("bad", [np.zeros(4, dtype=np.int32), np.zeros((2, 2), dtype=np.int64),
                                 np.zeros(8, dtype=np.int64)[::2]])
def test_a_handle_refuses_arrays_the_kernels_would_misread(bad):
    good = [np.zeros(4, dtype=d) for d in (np.int64, np.float64, np.int64, np.float64, np.int64, np.int64,
                                            np.int64, np.float64, np.float32)]
    state_handle(*good)
    with pytest.raises(TypeError, match="array 0"):
        state_handle(bad, *good[1:])
