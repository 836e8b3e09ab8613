"""Gymnasium conventions: action masks in info, one info layout in every vectorisation mode, truncation
metrics, the registered ids (namespace, aliases, visible defaults, episode lengths) and the vector metadata."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium.vector import AutoresetMode

import tinysim_gym  # noqa: F401 - registers the ids
from tinysim_gym.envs.defaults import default_config
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.registration import ENV_IDS, MAX_STEPS, NAMESPACE, VARIANTS
from tinysim_gym.envs.vector_env import TinySimVectorEnv

SMALL = {"battery": {"capacity_mah": 0.003}}  # episodes of a few dozen steps at 16 decisions per step
INFO_KEYS = {"rewards", "time_ms", "soc", "queue", "inferences", "dropped", "skipped", "arrivals", "weighted_accuracy",
             "action_mask"}  # fmt: skip


def assert_same(a, b, path="info"):
    """Two (vector) infos hold the same keys, with equal values and dtypes, recursively."""
    assert set(a) == set(b), (path, sorted(set(a) ^ set(b)))
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, dict):
            assert_same(x, y, f"{path}.{key}")
        elif isinstance(x, np.ndarray) and x.dtype == object:
            assert len(x) == len(y) and all(_eq(u, v) for u, v in zip(x, y, strict=True)), (path, key)
        else:
            assert np.asarray(x).dtype == np.asarray(y).dtype, (path, key, np.asarray(x).dtype, np.asarray(y).dtype)
            assert np.array_equal(x, y), (path, key, x, y)


def _eq(u, v):
    if isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
        return np.array_equal(u, v)
    if isinstance(u, dict):
        return set(u) == set(v) and all(_eq(u[k], v[k]) for k in u)
    return u == v


# ------------------------------------------------------------------ action mask


def test_action_mask_on_reset_and_every_step():
    env = gym.make("tinysim/TinySim-v0", scenario="usps-l476-async1", **SMALL)
    obs, info = env.reset(seed=0)
    steps, done = 0, False
    while not done:
        mask = info["action_mask"]
        assert mask.dtype == np.int8 and mask.shape == (env.action_space.n,)
        assert np.array_equal(mask, env.unwrapped.action_masks().astype(np.int8)) and mask.any()
        assert set(mask.tolist()) <= {0, 1}
        assert INFO_KEYS <= set(info)
        obs, _, term, trunc, info = env.step(int(np.flatnonzero(mask)[-1]))
        done = term or trunc
        steps += 1
    assert steps > 5 and "episode_metrics" in info and "action_mask" in info


def test_action_mask_masks_what_the_battery_cannot_run():
    env = TinySimEnv(scenario="usps-l476-async-horizon", battery={"capacity_mah": 0.0005})
    _, info = env.reset(seed=0)
    seen_masked = False
    done = False
    while not done:
        _, _, done, _, info = env.step(0)
        seen_masked |= not info["action_mask"].all()
    assert seen_masked  # near the end the dearer models no longer fit in the charge left


# ------------------------------------------------------------------ one info layout


def _vec(mode, env_id, n, autoreset, **kw):
    if mode == "vector_entry_point":
        return gym.make_vec(env_id, num_envs=n, autoreset_mode=autoreset, **kw)
    return gym.make_vec(env_id, num_envs=n, vectorization_mode=mode, vector_kwargs={"autoreset_mode": autoreset},
                        **kw)  # fmt: skip


@pytest.mark.parametrize("autoreset", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("limit", [None, 7], ids=["terminations", "truncations"])
def test_same_infos_in_single_sync_async_and_batched_modes(autoreset, limit):
    n, env_id = 3, "tinysim/TinySim-v0"
    kw = {"scenario": "usps-l476-async-horizon", "max_steps": limit, **SMALL}
    venvs = {mode: _vec(mode, env_id, n, autoreset, **kw) for mode in ("vector_entry_point", "sync", "async")}
    assert isinstance(venvs["vector_entry_point"].unwrapped, TinySimVectorEnv)
    singles = [gym.make(env_id, **kw) for _ in range(n)]
    resets = {mode: v.reset(seed=10) for mode, v in venvs.items()}
    single_infos = [e.reset(seed=10 + i)[1] for i, e in enumerate(singles)]
    for i, info in enumerate(single_infos):
        assert set(info) == INFO_KEYS
        assert_same({"x": resets["vector_entry_point"][1]["soc"][i]}, {"x": info["soc"]})
    for mode in ("sync", "async"):
        assert np.array_equal(resets[mode][0], resets["vector_entry_point"][0])
        assert_same(resets[mode][1], resets["vector_entry_point"][1], f"reset[{mode}]")
    rng = np.random.default_rng(0)
    ends = {"term": 0, "trunc": 0}
    pending = [False] * n
    for _ in range(120):
        a = rng.integers(10, size=n)
        out = {mode: v.step(a) for mode, v in venvs.items()}
        ref = out["vector_entry_point"]
        for mode in ("sync", "async"):
            for k in range(4):
                assert np.array_equal(out[mode][k], ref[k]), (mode, k)
            assert_same(out[mode][4], ref[4], f"step[{mode}]")
        for i, env in enumerate(singles):  # the single env's own info matches its row
            if pending[i]:
                _, info = env.reset()
                pending[i] = False
                term = trunc = False
            else:
                _, _, term, trunc, info = env.step(int(a[i]))
            if term or trunc:
                ends["term" if term else "trunc"] += 1
                assert "episode_metrics" in info
                if autoreset == AutoresetMode.SAME_STEP:
                    _, reset_info = env.reset()
                    assert ref[4]["_final_info"][i]
                    end = {k: _row(ref[4]["final_info"], k, i) for k in info}
                    assert all(_eq(end[k], info[k]) for k in info), i
                    info = reset_info
                else:
                    assert ref[4]["_episode_metrics"][i]
                    pending[i] = True
            for key in INFO_KEYS - {"rewards", "action_mask"}:
                assert ref[4][key][i] == info[key], (i, key)
            assert np.array_equal(ref[4]["action_mask"][i], info["action_mask"])
    assert ends["trunc" if limit else "term"] >= n
    for v in venvs.values():
        v.close()


def _row(vinfo, key, i):
    value = vinfo[key]
    if isinstance(value, dict):
        return {k: _row(value, k, i) for k in value if not k.startswith("_")}
    return value[i]


def test_truncation_of_the_single_env_carries_episode_metrics():
    env = gym.make("tinysim/TinySim-v0", max_steps=5)
    env.reset(seed=0)
    for _ in range(4):
        *_, terminated, truncated, info = env.step(1)
        assert not truncated and "episode_metrics" not in info
    *_, terminated, truncated, info = env.step(1)
    assert truncated and not terminated
    m = info["episode_metrics"]
    assert m["inferences"] == info["inferences"] and m["end_reason"] is not None
    # the registered limit works the same way; a TimeLimit wrapper still truncates (without the metrics)
    assert gym.make("TinySim-v0").unwrapped.settings.max_steps == MAX_STEPS
    wrapped = gym.make("TinySim-v0", max_episode_steps=3)
    wrapped.reset(seed=0)
    assert [wrapped.step(1)[3] for _ in range(3)] == [False, False, True]


def test_vector_env_truncation_uses_the_registered_limit():
    venv = gym.make_vec("TinySim-v0", num_envs=2, max_steps=4)
    assert venv.unwrapped.max_episode_steps == 4
    venv.reset(seed=0)
    for _ in range(4):
        *_, trunc, info = venv.step(np.array([1, 1]))
    assert trunc.all() and info["_episode_metrics"].all()


# ------------------------------------------------------------------ registration


def test_namespaced_ids_and_aliases_carry_their_defaults():
    assert len(ENV_IDS) == 2 * len(VARIANTS)
    for name, variant in VARIANTS.items():
        spaced, plain = gym.spec(f"{NAMESPACE}/{name}"), gym.spec(name)
        assert spaced.namespace == NAMESPACE and plain.namespace is None
        assert spaced.kwargs == plain.kwargs == {**default_config(), "max_steps": MAX_STEPS, **variant}
        assert set(default_config()) <= set(spaced.kwargs) and spaced.kwargs["decisions_per_step"] > 1
        assert spaced.entry_point == plain.entry_point and spaced.vector_entry_point == plain.vector_entry_point
        assert spaced.max_episode_steps is None  # the env owns its limit: max_steps
        env = gym.make(f"{NAMESPACE}/{name}")
        assert env.unwrapped.config["decisions_per_step"] == variant["decisions_per_step"]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_default_episode_is_a_few_thousand_steps_at_most(name):
    env = gym.make(f"{NAMESPACE}/{name}")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, done = 0, False
    while not done:
        _, _, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        done, steps = term or trunc, steps + 1
    assert term and not trunc  # ends on its own, well before the limit
    assert 500 <= steps <= 3000 < MAX_STEPS, steps


def test_tinysim_train_configs_do_not_use_the_registered_defaults():
    # tinysim train builds its envs from the config's env_kwargs plus the scenario, never from a registered id
    with open(Path(__file__).resolve().parents[2] / "configs" / "agents" / "ppo.yaml") as fh:
        sections = yaml.safe_load(fh)
    for scenario, section in sections.items():
        env_kwargs = {**sections["default"], **section}["env_kwargs"]
        ref = "usps-l476-async-horizon" if scenario == "default" else scenario
        venv = TinySimVectorEnv(2, {**env_kwargs, "scenario": ref})
        assert venv.settings.decisions_per_step == env_kwargs["decisions_per_step"]
        assert venv.max_episode_steps is None and venv.settings.max_steps is None


# ------------------------------------------------------------------ vector metadata


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_vector_env_declares_its_autoreset_mode(mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        venv = gym.make_vec("tinysim/TinySim-v0", num_envs=2, autoreset_mode=mode.value)
    assert venv.metadata["autoreset_mode"] is mode
    assert TinySimVectorEnv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert "autoreset_mode" in (TinySimVectorEnv.__doc__ or "")
