"""The pacing features (``obs_model_features: pacing``): closed forms on the tiny device, dominance, the paced slot."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.support.tiny_device import TINY_BOARD, TINY_PROFILE
from tinysim_gym.core import kernels as CK
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.model_features import PACING_FEATURES, SLOT_FEATURES, dominated
from tinysim_gym.errors import ConfigError

K = 4
GAP_MS = 0.12  # (floor(0.1 / 0.01) + 1 / 0.5) x 0.01 ms
IDLE_MAH_PER_MS = TINY_BOARD["idle_current_ma"] / 3.6e6
WIDTH = len(SLOT_FEATURES) + len(PACING_FEATURES)


def env_for(profile: Any = TINY_PROFILE, capacity_mah: float = 1e-4, features: bool | str = "pacing") -> TinySimEnv:
    """The tiny device with a ten times larger battery than the basic tests' (the pace affords the mid model)."""
    sc = {"name": "tiny-pacing", "board": TINY_BOARD, "profile": profile,
          "workload": {"mode": "async", "min_interval_ms": 0.1, "arrival_probability": 0.5, "buffer_size": 4,
                       "timebase_ms": 0.01},
          "battery": {"capacity_mah": capacity_mah, "initial_soc": 1.0}, "horizon_ms": 100.0, "seed_compat": False}
    return TinySimEnv(scenario=sc, max_models=K, obs_model_features=features)


def slots(env: TinySimEnv, obs: np.ndarray) -> np.ndarray:
    start = env.feature_names.index("model_present_0")
    return obs[start : start + K * WIDTH].reshape(K, WIDTH)


def expected_pacing(models: list[tuple[float, float]], rem: float, t_ms: float) -> np.ndarray:
    """The four pacing features by their definitions, models (accuracy, latency ms) in slot order, 10 mA."""
    acc = np.array([a for a, _ in models])
    lat = np.array([lt for _, lt in models])
    q = 10.0 * lat / 3.6e6
    left = (100.0 - t_ms) / GAP_MS
    pace = (rem - IDLE_MAH_PER_MS * (100.0 - t_ms)) / (1.0 + left)
    x = pace / q
    out = np.zeros((len(models), 4))
    out[:, 0] = (acc - acc.min()) / (acc.max() - acc.min())
    out[:, 1] = [any(acc[j] >= acc[i] and q[j] <= q[i] and lat[j] <= lat[i] and j != i
                     and (acc[j] > acc[i] or q[j] < q[i] or lat[j] < lat[i] or j < i) for j in range(len(models)))
                 for i in range(len(models))]
    out[:, 2] = x / (1.0 + x)
    ok = [i for i in range(len(models)) if q[i] <= pace and lat[i] <= GAP_MS and not out[i, 1]]
    out[max(ok, key=lambda i: acc[i]) if ok else 0, 3] = 1.0
    return out


TINY_SLOTS = [(60.0, 0.01), (80.0, 0.02), (90.0, 0.05)]  # slot order: cheapest first


def test_pacing_features_at_reset_follow_their_definitions() -> None:
    env = env_for()
    obs, _ = env.reset(seed=3)
    assert env.observation_space.shape == (4 + K * WIDTH + 1,)
    got = slots(env, obs)
    want = expected_pacing(TINY_SLOTS, float(env.engine.FS[CK.G_R]), env.engine.time_ms)
    np.testing.assert_allclose(got[:3, len(SLOT_FEATURES):], want, rtol=1e-5, atol=1e-6)
    assert list(got[:3, -1]) == [0.0, 1.0, 0.0]  # the mid model: the big one costs more than the pace
    assert not got[3].any()  # a missing slot: every feature 0
    basic = env_for(features=True)
    ob, _ = basic.reset(seed=3)  # the basic six per slot and samples_left are the same numbers
    np.testing.assert_allclose(got[:, : len(SLOT_FEATURES)].reshape(-1), ob[4:-1], rtol=1e-6)
    assert obs[-1] == ob[-1]


def test_the_paced_slot_follows_the_charge_as_it_drains() -> None:
    env = env_for()
    obs, _ = env.reset(seed=0)
    seen = set()
    for _ in range(2000):
        obs, _, term, trunc, _ = env.step(2)  # always the dearest: the pace falls
        if term or trunc:
            break
        rem, t = float(env.engine.FS[CK.G_R]), env.engine.time_ms
        want = expected_pacing(TINY_SLOTS, rem, t)
        got = slots(env, obs)[:3, len(SLOT_FEATURES):]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        seen.add(int(np.argmax(got[:, 3])))
    assert seen == {0, 1}  # the mid model while the charge paid for it, then the cheapest


def test_a_cheap_accurate_model_dominates_the_others() -> None:
    # a profile of different tasks (as the NDP9120's MLPerf results): the cheapest model is also the most
    # accurate, so whatever the charge the paced slot is slot 0; an identical copy is dominated too
    profile = {"name": "tasks", "models": [{"id": "b", "accuracy": 80.0, "latency_ms": 0.02},
                                           {"id": "c", "accuracy": 90.0, "latency_ms": 0.05},
                                           {"id": "a", "accuracy": 95.0, "latency_ms": 0.01},
                                           {"id": "d", "accuracy": 95.0, "latency_ms": 0.01}]}
    env = env_for(profile, capacity_mah=1.0)
    obs, _ = env.reset(seed=1)
    got = slots(env, obs)[:, len(SLOT_FEATURES):]
    np.testing.assert_array_equal(got[:, 1], [0.0, 1.0, 1.0, 1.0])  # slots a, d, b, c
    np.testing.assert_array_equal(got[:, 3], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(got[:, 0], [1.0, 1.0, 0.0, 2 / 3])


def test_a_model_slower_than_the_arrivals_is_never_paced() -> None:
    profile = {"name": "slow", "models": [{"id": "fast", "accuracy": 70.0, "latency_ms": 0.01},
                                          {"id": "slow", "accuracy": 99.0, "latency_ms": 0.2}]}
    env = env_for(profile, capacity_mah=1.0)  # the charge pays for anything; the time does not
    obs, _ = env.reset(seed=2)
    assert list(slots(env, obs)[:2, -1]) == [1.0, 0.0]


@pytest.mark.parametrize(("acc", "q", "lat", "want"), [
    ([90, 80], [1, 2], [1, 2], [0, 1]),  # cheaper and better
    ([80, 90], [1, 2], [1, 2], [0, 0]),  # a trade-off: neither
    ([90, 90], [1, 1], [1, 1], [0, 1]),  # identical: the later one
    ([90, 90], [1, 1], [2, 1], [1, 0]),  # equal but slower
])
def test_dominance_by_its_definition(acc: list[float], q: list[float], lat: list[float], want: list[float]) -> None:
    np.testing.assert_array_equal(dominated(np.array(acc, float), np.array(q, float), np.array(lat, float)), want)


def test_an_unknown_feature_set_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"env.obs_model_features: expected true, false or 'pacing', got 'fast'"):
        env_for(features="fast")  # type: ignore[arg-type]
