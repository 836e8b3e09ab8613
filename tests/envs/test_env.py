"""The Gymnasium env ``TinySim-v0``: API checkers, exact agreement with the engine, seeding, misuse."""

from __future__ import annotations

import importlib
import io
import json
import pickle
import warnings
from contextlib import redirect_stdout

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import tinysim_gym
from baselines.original import AccuracyFirst, FuzzySelector, LatencyFirst, StaticSelector
from tests.support import assert_published
from tinysim_gym import load_scenario, run
from tinysim_gym.core import kernels as K
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.registration import ENV_IDS
from tinysim_gym.errors import ConfigError, TinySimError

PUBLISHED_CASES = ["sync_1", "sync_2", "async_1", "async_2", "async_3", "async_4", "acc_first", "lat_first"]
SELECTORS = {
    "reference": lambda: StaticSelector(0),
    "fuzzy-tova": FuzzySelector,
    "accuracy-first": AccuracyFirst,
    "latency-first": LatencyFirst,
}
SMALL = {"battery": {"capacity_mah": 0.004}}  # a few thousand decisions per episode


def rollout(env, seed, n_steps, action_seed=0, masked=False):
    """Step with seeded random actions (resetting at the ends); return every transition."""
    rng = np.random.default_rng(action_seed)
    out = [env.reset(seed=seed)]
    for _ in range(n_steps):
        if masked:
            allowed = np.flatnonzero(env.unwrapped.action_masks())
            a = int(rng.choice(allowed))
        else:
            a = int(rng.integers(env.action_space.n))
        step = env.step(a)
        out.append(step)
        if step[2] or step[3]:
            out.append(env.reset())
    return out


# ------------------------------------------------------------------ registration and checkers


def test_ids_registered_with_vector_entry_point():
    for env_id in ENV_IDS:
        spec = gym.spec(env_id)
        assert spec.entry_point == "tinysim_gym.envs.env:TinySimEnv"
        assert spec.vector_entry_point == "tinysim_gym.envs.vector_env:TinySimVectorEnv"
    importlib.reload(importlib.import_module("tinysim_gym.envs.registration"))  # importing twice is harmless
    importlib.reload(tinysim_gym)
    assert set(ENV_IDS) <= set(gym.registry)


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_sb3_check_env(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(gym.make(env_id), warn=True)


def test_make_vec_sync_and_sb3_make_vec_env():
    from stable_baselines3.common.env_util import make_vec_env

    venv = gym.make_vec("TinySim-v0", num_envs=3, vectorization_mode="sync", scenario="async_1")
    assert isinstance(venv, gym.vector.SyncVectorEnv)
    obs, _ = venv.reset(seed=1)
    assert obs.shape == (3, 3) and obs.dtype == np.float32
    obs, rew, term, trunc, _ = venv.step(np.array([0, 1, 2]))
    assert obs.shape == (3, 3) and rew.shape == (3,) and not term.any()
    venv.close()
    sb3 = make_vec_env("TinySim-load-v0", n_envs=2, seed=0)
    obs = sb3.reset()
    assert obs.shape == (2, 3)
    obs, rew, done, infos = sb3.step(np.array([1, 2]))
    assert rew.shape == (2,) and len(infos) == 2
    sb3.close()


# ------------------------------------------------------------------ agreement with the engine


@pytest.mark.parametrize("case", PUBLISHED_CASES)
def test_published_case_through_the_env(case):
    scenario = load_scenario(case)
    expected = run(scenario, SELECTORS[scenario.selector]())
    env = TinySimEnv(scenario=case)
    selector = SELECTORS[scenario.selector]()
    obs, info = env.reset()
    view = env.engine
    selector.reset(view)
    total, steps, terminated = 0.0, 0, False
    step, select = env.step, selector.select
    while not terminated:
        obs, reward, terminated, truncated, info = step(select(view))
        total += reward
        steps += 1
        assert not truncated
    assert info["episode_metrics"] == expected
    assert steps == expected["inferences"]
    assert_published(case, info["episode_metrics"])
    served = expected["inferences"] + expected["dropped"]
    assert total == pytest.approx(expected["weighted_accuracy"] / 100 * served, rel=1e-9)


def test_gym_make_sync_1_action_0_gives_published_figures():
    env = gym.make("TinySim-v0", scenario="sync_1")
    env.reset()
    terminated = False
    while not terminated:
        _, _, terminated, truncated, info = env.step(0)
    m = info["episode_metrics"]
    assert m["operating_time_ms"] == pytest.approx(440245.63, abs=0.1)
    assert m["inferences"] == 146261 and m["dropped"] == 0
    assert m["weighted_accuracy"] == pytest.approx(94.08, abs=0.1)
    assert_published("sync_1", m)


@pytest.mark.parametrize("model", [0, 5])
def test_episode_metrics_equal_tinysim_simulate_json(model):
    env = gym.make("TinySim-horizon-v0")
    env.reset(seed=3)
    terminated = False
    while not terminated:
        _, _, terminated, _, info = env.step(model)
    from tinysim_gym.cli import main

    buf = io.StringIO()
    argv = ["simulate", "--scenario", "usps-l476-async-horizon", "--selector", "static", "--param",
            f"index={model}", "--seed", "3", "--json"]  # fmt: skip
    with redirect_stdout(buf):
        assert main(argv) == 0
    printed = json.loads(buf.getvalue())
    assert printed.pop("selector") == "static"
    assert json.loads(json.dumps(info["episode_metrics"])) == printed
    assert info["episode_metrics"] == run(load_scenario("usps-l476-async-horizon"), StaticSelector(model), seed=3)


def test_horizon_return_over_arrivals_is_weighted_accuracy():
    for policy in ("random", "fixed"):
        env = TinySimEnv(scenario="usps-l476-async-horizon")
        env.reset(seed=11)
        rng = np.random.default_rng(0)
        total, terminated = 0.0, False
        while not terminated:
            a = int(rng.integers(10)) if policy == "random" else 0
            _, reward, terminated, truncated, info = env.step(a)
            total += reward
            assert sum(info["rewards"].values()) == reward
        m = info["episode_metrics"]
        assert not truncated and m["arrivals"] == m["inferences"] + m["dropped"] == info["arrivals"]
        assert abs(total / m["arrivals"] - m["weighted_accuracy"] / 100) < 1e-9
        assert info["weighted_accuracy"] == m["weighted_accuracy"]
        if policy == "fixed":  # the most accurate model dies early and drops about a third
            assert m["end_reason"] == "depleted" and m["dropped_after_end"] > 0.25 * m["arrivals"]


def test_decisions_per_step_is_action_repeat():
    one = TinySimEnv(scenario="async_2", **SMALL)
    rep = TinySimEnv(scenario="async_2", decisions_per_step=7, **SMALL)
    one.reset(seed=0)
    rep.reset(seed=0)
    rng = np.random.default_rng(1)
    done = False
    while not done:
        a = int(rng.integers(10))
        obs_r, rew_r, done, _, info_r = rep.step(a)
        total, acc = 0.0, 0.0
        for _ in range(7):
            obs_1, rew_1, term_1, _, info_1 = one.step(a)
            total += rew_1
            acc += info_1["rewards"]["accuracy"]
            if term_1:
                break
        assert term_1 == done
        assert np.array_equal(obs_r, obs_1)
        assert rew_r == pytest.approx(total, abs=1e-12)
        assert {k: v for k, v in info_r.items() if k not in ("rewards", "action_mask")} == {
            k: v for k, v in info_1.items() if k not in ("rewards", "action_mask")
        }
        assert np.array_equal(info_r["action_mask"], info_1["action_mask"])  # an array: compared on its own


def test_drop_penalty_component():
    env = TinySimEnv(scenario="usps-l476-async1", drop_penalty=0.5, **SMALL)
    env.reset(seed=2)
    seen_drop = False
    dropped = 0
    terminated = False
    while not terminated:
        _, reward, terminated, _, info = env.step(0)  # the slowest model: the buffer overflows
        new = info["dropped"] - dropped
        dropped = info["dropped"]
        assert info["rewards"]["drop_penalty"] == (-0.5 * new if new else 0.0)
        assert reward == info["rewards"]["accuracy"] + info["rewards"]["drop_penalty"]
        seen_drop |= new > 0
    assert seen_drop


# ------------------------------------------------------------------ seeding, pickling


def test_same_seed_same_trajectory_exactly():
    a = rollout(TinySimEnv(scenario="usps-l476-async-horizon", obs_last_action=True, obs_arrival_rate=True,
                           **SMALL), seed=42, n_steps=6000)  # fmt: skip
    b = rollout(TinySimEnv(scenario="usps-l476-async-horizon", obs_last_action=True, obs_arrival_rate=True,
                           **SMALL), seed=42, n_steps=6000)  # fmt: skip
    assert len(a) == len(b) and len(a) > 6001  # at least one episode ended and was reset
    for x, y in zip(a, b, strict=True):
        assert len(x) == len(y)
        for u, v in zip(x, y, strict=True):
            assert data_equivalence(u, v, exact=True)
    c = rollout(TinySimEnv(scenario="usps-l476-async-horizon", **SMALL), seed=43, n_steps=200)
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a[:200], c, strict=False))


def test_reset_same_seed_on_one_env_repeats():
    env = TinySimEnv(scenario="usps-l476-async1", **SMALL)
    first = rollout(env, seed=5, n_steps=300)
    again = rollout(env, seed=5, n_steps=300)
    for x, y in zip(first, again, strict=True):
        for u, v in zip(x, y, strict=True):
            assert data_equivalence(u, v, exact=True)


def test_pickle_mid_episode_continues_identically():
    env = gym.make("TinySim-load-v0", obs_arrival_rate=True)
    env.reset(seed=9)
    for a in range(50):
        env.step(a % 10)
    clone = pickle.loads(pickle.dumps(env))
    rng = np.random.default_rng(3)
    for _ in range(3000):
        a = int(rng.integers(10))
        x, y = env.step(a), clone.step(a)
        for u, v in zip(x, y, strict=True):
            assert data_equivalence(u, v, exact=True)
        if x[2]:
            break
    fresh = pickle.loads(pickle.dumps(TinySimEnv()))  # never reset
    with pytest.raises(gym.error.ResetNeeded):
        fresh.step(0)


# ------------------------------------------------------------------ spaces, masks, options


def test_observations_stay_inside_bounds():
    for scenario in ("usps-l476-async-horizon", "usps-l476-async1", "sync_1", "async_3"):
        env = TinySimEnv(scenario=scenario, obs_horizon=True, obs_last_action=True, obs_arrival_rate=True,
                         drop_window=4, battery={"capacity_mah": 0.003})  # fmt: skip
        assert env.observation_space.shape == (6,)
        assert env.feature_names == ("soc", "buffer_fill", "recent_drops", "horizon_elapsed", "last_action",
                                     "arrival_rate")  # fmt: skip
        for x in rollout(env, seed=0, n_steps=2500):
            obs = x[0]
            assert obs.dtype == np.float32 and obs in env.observation_space, (scenario, obs)
        env.reset(seed=1)
        obs, *_ = env.step(3)
        assert np.array_equal(env._get_obs(), obs)
        assert obs[4] == pytest.approx(4 / 10)  # last action 3 -> (3 + 1) / n


def test_feature_defaults_follow_the_horizon():
    assert TinySimEnv(scenario="usps-l476-async-horizon").feature_names == (
        "soc", "buffer_fill", "recent_drops", "horizon_elapsed")  # fmt: skip
    assert TinySimEnv(scenario="usps-l476-async1").observation_space.shape == (3,)


def test_recent_drops_and_buffer_fill_values():
    env = TinySimEnv(scenario="usps-l476-async1", drop_window=8, **SMALL)
    obs, info = env.reset(seed=0)
    assert obs[0] == pytest.approx(1.0, abs=1e-6) and obs[1] == 0.0 and obs[2] == 0.0
    history = [(info["arrivals"], info["dropped"])]
    for _ in range(200):
        obs, _, terminated, _, info = env.step(0)
        history.append((info["arrivals"], info["dropped"]))
        old = history[max(0, len(history) - 9)] if len(history) > 8 else (0, 0)
        da, dd = info["arrivals"] - old[0], info["dropped"] - old[1]
        assert obs[2] == np.float32(dd / da if da else 0.0)
        assert obs[1] == np.float32(info["queue"] / 6)
        assert obs[0] == np.float32(info["soc"])


def test_action_masks():
    env = TinySimEnv(scenario="usps-l476-async-horizon")
    env.reset(seed=0)
    m = env.action_masks()
    assert m.dtype == bool and m.shape == (10,) and m.all()
    eng = env.engine
    charge = eng.inference_charge_mah
    eng.FS[K.G_R] = (charge[1] + charge[2]) / 2  # enough for model 1 (the cheapest) only
    assert np.flatnonzero(env.action_masks()).tolist() == [1]
    eng.FS[K.G_R] = charge.min() / 2  # nothing fits: the cheapest stays allowed
    assert np.flatnonzero(env.action_masks()).tolist() == [int(np.argmin(charge))]
    # a masked action is executed as chosen and never crashes
    env.reset(seed=0)
    eng.FS[K.G_R] = charge[0] * 0.5
    obs, reward, terminated, truncated, info = env.step(0)
    assert terminated and not truncated and obs in env.observation_space
    # default mode: the battery dies mid-inference, so the sample gets no result and is lost
    assert reward == 0.0 and info["rewards"]["accuracy"] == 0.0
    m = info["episode_metrics"]
    assert m["end_reason"] == "depleted" and m["inferences"] == 0 and m["dropped_after_end"] >= 1


def test_masked_random_agent_runs_whole_episodes():
    env = TinySimEnv(scenario="usps-l476-async-horizon", battery={"capacity_mah": 0.01})
    steps = rollout(env, seed=0, n_steps=8000, masked=True)
    assert any(len(x) == 5 and x[2] for x in steps)


def test_reset_options_switch_scenario():
    env = TinySimEnv(scenario="sync_1")
    env.reset(options={"scenario": "async_1"})
    assert env.scenario.name == "async_1" and env.engine.scenario.workload.mode == "async"
    env.reset()
    assert env.scenario.name == "async_1"
    env.reset(options={"scenario": load_scenario("usps-l476-async1")})
    assert env.scenario.name == "usps-l476-async1"
    four = {"profile": "mnist_stream_b1"}
    with pytest.raises(TinySimError, match="models"):
        env.reset(options={"scenario": load_scenario("usps-l476-async1", **four)})


def test_render():
    env = gym.make("TinySim-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(1)
    text = env.render()
    assert "soc=" in text and "buffer=" in text
    assert TinySimEnv().render() is None
    env = TinySimEnv(render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    # the labelled dashboard replaced the three bars (48x160): at least 480x320, drawn with matplotlib
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 10  # axes, labels and curves, not a blank frame


# ------------------------------------------------------------------ misuse


def test_step_before_reset_raises():
    with pytest.raises(gym.error.ResetNeeded, match="before reset"):
        TinySimEnv().step(0)
    with pytest.raises(gym.error.ResetNeeded):
        gym.make("TinySim-v0").step(0)


@pytest.mark.parametrize("action", [-1, 10, 1.5, "3", None, True, np.array([1, 2]), np.float64(2.0)])
def test_action_outside_space_raises(action):
    env = TinySimEnv()
    env.reset(seed=0)
    before = env.engine.ST.copy()
    with pytest.raises(gym.error.InvalidAction, match="action"):
        env.step(action)
    assert np.array_equal(before, env.engine.ST)  # no state changed
    env.step(np.int64(2))  # numpy integers and 0-d arrays are fine
    env.step(np.array(3))


def test_step_after_end_raises():
    env = TinySimEnv(scenario="sync_1", battery={"capacity_mah": 0.0005})
    env.reset()
    terminated = False
    while not terminated:
        *_, terminated, _, _ = env.step(1)
    with pytest.raises(gym.error.ResetNeeded, match="ended"):
        env.step(1)
    env.reset()
    env.step(1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"decisions_per_step": 0},
        {"decisions_per_step": 1.5},
        {"drop_penalty": -1.0},
        {"drop_penalty": float("nan")},
        {"drop_window": 0},
        {"obs_horizon": "yes"},
        {"no_such_key": 1},
        {"scenario": "no-such-scenario"},
        {"battery": {"capacity_mah": -1}},
        {"render_mode": "video"},  # "human" is a render mode now (the live dashboard)
        {"render_mode": "rgb"},
    ],
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ConfigError):
        TinySimEnv(**kwargs)


def test_config_merging():
    env = TinySimEnv({"scenario": "async_1", "drop_window": 4}, drop_window=5, battery={"capacity_mah": 0.5})
    assert env.config["drop_window"] == 5 and env.config["scenario"] == "async_1"
    assert env.scenario.battery.capacity_mah == 0.5
    assert TinySimEnv.default_config()["decisions_per_step"] == 1


def test_unknown_reset_option_raises_and_time_limit_truncates():
    env = TinySimEnv()
    with pytest.raises(TinySimError, match="options"):
        env.reset(options={"scenaro": "sync_1"})
    env = gym.make("TinySim-v0", max_episode_steps=5)
    env.reset(seed=0)
    for _ in range(5):
        *_, terminated, truncated, _ = env.step(1)
    assert truncated and not terminated


def test_domain_randomisation_draws_a_scenario_per_reset():
    env = TinySimEnv(scenario="usps-l476-async-horizon",
                     scenario_overrides={"randomize": {"battery.capacity_mah": {"range": [0.01, 0.05]},
                                                       "board": ["NUCLEO-L476RG", "STM32L4R9I-DISCO"]}})
    caps, boards = [], set()
    for seed in range(8):
        env.reset(seed=seed)
        caps.append(env.unwrapped.scenario.battery.capacity_mah)
        boards.add(env.unwrapped.scenario.board.name)
        assert env.unwrapped.engine.capacity_mah == caps[-1]
    assert len(set(caps)) == 8 and all(0.01 <= c <= 0.05 for c in caps)
    assert boards == {"NUCLEO-L476RG", "STM32L4R9I-DISCO"}
    env.reset(seed=3)
    again = env.unwrapped.scenario
    env.reset(seed=3)
    assert env.unwrapped.scenario == again  # the same seed draws the same scenario
