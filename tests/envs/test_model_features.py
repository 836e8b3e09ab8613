"""The padded encoding (``max_models``, ``obs_model_features``): closed-form features, masks, fallback, mixed sizes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.rollout import run_seeds
from tests.support.tiny_device import TINY_BOARD, TINY_PROFILE
from tinysim_gym.core import kernels as CK
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.model_features import SLOT_FEATURES
from tinysim_gym.envs.padded_vector import PaddedVectorEnv, make_vector_env
from tinysim_gym.envs.settings import EnvSettings, split_kwargs
from tinysim_gym.envs.vector_env import TinySimVectorEnv
from tinysim_gym.errors import ConfigError, TinySimError
from tinysim_gym.export.observation import ObsSpec

K = 4
TINY2 = {"name": "tiny2", "models": [{"id": "a", "accuracy": 70.0, "latency_ms": 0.03},
                                     {"id": "b", "accuracy": 95.0, "latency_ms": 0.08}]}


def scenario(profile: Any = TINY_PROFILE, **extra: Any) -> dict[str, Any]:
    """A tiny device: mean arrival gap (floor(0.1 / 0.01) + 1 / 0.5) x 0.01 = 0.12 ms, 1e-5 mAh, 100 ms."""
    return {"name": "tiny-padded", "board": TINY_BOARD, "profile": profile,
            "workload": {"mode": "async", "min_interval_ms": 0.1, "arrival_probability": 0.5, "buffer_size": 4,
                         "timebase_ms": 0.01},
            "battery": {"capacity_mah": 1e-5, "initial_soc": 1.0}, "horizon_ms": 100.0, "seed_compat": False,
            **extra}


def padded(profile: Any = TINY_PROFILE, **extra: Any) -> TinySimEnv:
    return TinySimEnv(scenario=scenario(profile, **extra), max_models=K, obs_model_features=True)


def slots(env: TinySimEnv, obs: np.ndarray) -> np.ndarray:
    """The per-slot features as a (K, features) array."""
    start = env.feature_names.index("model_present_0")
    return obs[start : start + K * len(SLOT_FEATURES)].reshape(K, len(SLOT_FEATURES))


def expected_slot(acc: float, lat_ms: float, rem: float, left: float) -> list[float]:
    """A model's features by their definitions: 10 mA for ``lat_ms``, capacity 1e-5 mAh, gap 0.12 ms."""
    q = 10.0 * lat_ms / 3.6e6
    r = lat_ms / 0.12
    return [1.0, acc / 100, r / (1 + r), (math.log10(q / 1e-5) + 6) / 6, min(q / rem, 1.0), min(rem / (q * left), 1.0)]


@pytest.mark.parametrize(("profile", "models"), [
    (TINY_PROFILE, [(60.0, 0.01), (80.0, 0.02), (90.0, 0.05)]),  # slots: cheapest first, whatever the listing
    (TINY2, [(70.0, 0.03), (95.0, 0.08)]),
])
def test_features_at_reset_follow_their_definitions(profile: Any, models: list[tuple[float, float]]) -> None:
    env = padded(profile)
    obs, info = env.reset(seed=3)
    assert env.observation_space.shape == (4 + K * len(SLOT_FEATURES) + 1,)  # the same for 2 and 3 models
    assert env.action_space.n == K
    left = (100.0 - env.engine.time_ms) / 0.12  # the first decision waits for the first arrival
    want = np.zeros((K, len(SLOT_FEATURES)))
    for i, (acc, lat) in enumerate(models):
        want[i] = expected_slot(acc, lat, float(env.engine.FS[CK.G_R]), left)  # idle drain before it
    np.testing.assert_allclose(slots(env, obs), want, rtol=1e-5, atol=1e-6)
    assert obs[-1] == pytest.approx(math.log10(1 + left) / 6, rel=1e-6)
    assert list(info["action_mask"]) == [1] * len(models) + [0] * (K - len(models))


def test_features_follow_the_charge_and_the_clock() -> None:
    env = padded()
    env.reset(seed=0)
    for _ in range(20):
        obs, *_ = env.step(2)
    rem, t = float(env.engine.FS[CK.G_R]), env.engine.time_ms
    assert rem < 1e-5 and t > 0
    left = (100.0 - t) / 0.12
    want = np.array([expected_slot(a, lat, rem, left) for a, lat in [(60.0, 0.01), (80.0, 0.02), (90.0, 0.05)]])
    np.testing.assert_allclose(slots(env, obs)[:3], want, rtol=1e-5, atol=1e-6)
    assert obs[-1] == pytest.approx(math.log10(1 + left) / 6, rel=1e-5)


def test_slot_order_is_the_same_for_any_listing_of_the_models() -> None:
    reordered = {**TINY_PROFILE, "models": list(reversed(TINY_PROFILE["models"]))}
    a, b = padded(), padded(reordered)
    oa, _ = a.reset(seed=5)
    ob, _ = b.reset(seed=5)
    for step in range(60):
        np.testing.assert_array_equal(oa, ob)
        act = step % K
        oa, ra, *_ = a.step(act)
        ob, rb, *_ = b.step(act)
        assert ra == rb


def test_a_missing_slot_runs_the_cheapest_model() -> None:
    env = padded()
    env.reset(seed=1)
    for _ in range(5):
        env.step(K - 1)  # slot 3 does not exist on a three-model profile
    counts = dict(zip(env.engine.model_ids, env.engine.model_counts, strict=True))
    assert counts["small"] == 5 and counts["mid"] == counts["big"] == 0


def test_the_skip_is_the_last_padded_action() -> None:
    env = padded(allow_skip=True)
    env.reset(seed=2)
    assert env.action_space.n == K + 1
    mask = env.action_masks()
    assert list(mask) == [True, True, True, False, True]
    _, _, _, _, info = env.step(K)
    assert info["skipped"] == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, K), lats=st.lists(st.integers(1, 9), min_size=K, max_size=K),
       actions=st.lists(st.integers(0, K - 1), min_size=1, max_size=40), seed=st.integers(0, 2**16))
def test_masks_never_allow_a_missing_model(n: int, lats: list[int], actions: list[int], seed: int) -> None:
    profile = {"name": f"rand{n}", "models": [{"id": f"m{i}", "accuracy": 50.0 + 10 * i, "latency_ms": 0.01 * lats[i]}
                                              for i in range(n)]}
    env = padded(profile)
    _, info = env.reset(seed=seed)
    for a in actions:
        mask = env.action_masks()
        assert not mask[n:].any() and mask.any()
        assert list(info["action_mask"]) == list(mask.astype(np.int8))
        _, _, term, trunc, info = env.step(a)
        if term or trunc:
            break
    assert sum(env.engine.model_counts) >= 0 and len(env.engine.model_counts) == n


def test_one_policy_runs_profiles_of_different_sizes_in_one_evaluation() -> None:
    template = scenario(TINY_PROFILE, randomize={"profile": [TINY_PROFILE, TINY2]})
    cfg = {"scenario": template, "max_models": K, "obs_model_features": True}

    def most_accurate_allowed(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        acc = obs[:, 5 : 5 + K * len(SLOT_FEATURES) : len(SLOT_FEATURES)]  # model_accuracy_i
        return np.argmax(np.where(masks, acc, -1.0), axis=1)

    runs, _ = run_seeds(most_accurate_allowed, cfg, list(range(8)))
    sizes = {len(r["model_counts"]) for r in runs}
    assert sizes == {2, 3}
    for r in runs:  # the policy picked the most accurate model until the charge ran short
        top = "big" if "big" in r["model_counts"] else "b"
        assert r["model_counts"][top] > 0


def test_padding_refuses_what_it_cannot_do() -> None:
    with pytest.raises(TinySimError, match="has 3 models, more than max_models 2"):
        TinySimEnv(scenario=scenario(), max_models=2)
    with pytest.raises(ConfigError, match="env.obs_model_features: needs max_models"):
        TinySimEnv(scenario=scenario(), obs_model_features=True)
    with pytest.raises(ConfigError, match="env.obs_charge_per_inference"):
        TinySimEnv(scenario=scenario(), max_models=K, obs_charge_per_inference=True)
    with pytest.raises(ConfigError, match="batched vector env has no padded encoding"):
        TinySimVectorEnv(2, {"scenario": scenario(), "max_models": K})
    with pytest.raises(TinySimError, match="export: the padded encoding"):
        ObsSpec.of(EnvSettings(split_kwargs({"scenario": scenario(), "max_models": K}, {})))
    assert isinstance(make_vector_env(2, {"scenario": scenario(), "max_models": K}), PaddedVectorEnv)
    assert isinstance(make_vector_env(2, {"scenario": scenario()}), TinySimVectorEnv)


def test_default_observation_is_unchanged_by_the_new_keys() -> None:
    plain = TinySimEnv(scenario=scenario())
    assert plain.feature_names == ("soc", "buffer_fill", "recent_drops", "horizon_elapsed")
    assert plain.action_space.n == 3
