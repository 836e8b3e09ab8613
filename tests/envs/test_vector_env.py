"""The batched vector env and its SB3 adapter: exact agreement with single envs, autoreset, SB3 integration."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from agents.vec_env import TinySimVecEnv
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.vector_env import TinySimVectorEnv
from tinysim_gym.errors import ConfigError, TinySimError

SMALL = {"battery": {"capacity_mah": 0.003}}  # episodes of several hundred decisions
KW = {"scenario": "usps-l476-async-horizon", "obs_last_action": True, "obs_arrival_rate": True, **SMALL}


def singles(n, seed, **kw):
    envs = [TinySimEnv(**kw) for _ in range(n)]
    obs = [e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]
    return envs, np.stack(obs)


@pytest.mark.parametrize("decisions_per_step", [1, 3])
def test_rows_equal_single_envs_across_autoresets(decisions_per_step):
    n = 5
    venv = TinySimVectorEnv(n, decisions_per_step=decisions_per_step, **KW)
    obs, info = venv.reset(seed=100)
    envs, obs1 = singles(n, 100, decisions_per_step=decisions_per_step, **KW)
    assert np.array_equal(obs, obs1)
    # the reset infos are the single envs' (the batched env used to return {}): same keys, same figures
    firsts = [TinySimEnv(decisions_per_step=decisions_per_step, **KW).reset(seed=100 + i)[1] for i in range(n)]
    assert set(info) == {k for key in firsts[0] for k in (key, f"_{key}")}
    for key in ("time_ms", "soc", "queue", "inferences", "dropped", "arrivals", "weighted_accuracy", "action_mask"):
        assert np.array_equal(info[key], np.stack([f[key] for f in firsts])) and info[f"_{key}"].all()
    rng = np.random.default_rng(0)
    pending = [False] * n  # NEXT_STEP: the single env is reset where the vector env autoresets
    ends = 0
    for _ in range(1500):
        a = rng.integers(10, size=n)
        obs, rew, term, trunc, info = venv.step(a)
        assert not trunc.any()
        for i, env in enumerate(envs):
            if pending[i]:
                o1, _ = env.reset()
                r1, t1, i1 = 0.0, False, None
                pending[i] = False
            else:
                o1, r1, t1, _, i1 = env.step(int(a[i]))
            assert np.array_equal(obs[i], o1), (i, obs[i], o1)
            assert rew[i] == r1 and term[i] == t1
            if t1:
                pending[i] = True
                ends += 1
                assert info["_episode_metrics"][i]
                got = {k: info["episode_metrics"][k][i] for k in ("inferences", "dropped", "weighted_accuracy")}
                assert got == {k: i1["episode_metrics"][k] for k in got}
    assert ends >= n


def test_same_step_autoreset_and_final_obs():
    venv = TinySimVectorEnv(3, autoreset_mode="SameStep", **KW)
    venv.reset(seed=7)
    envs, _ = singles(3, 7, **KW)
    finals = 0
    for _ in range(3000):
        a = np.array([0, 1, 5])
        obs, rew, term, trunc, info = venv.step(a)
        for i, env in enumerate(envs):
            o1, r1, t1, _, i1 = env.step(int(a[i]))
            assert rew[i] == r1 and term[i] == t1
            if t1:
                finals += 1
                assert np.array_equal(info["final_obs"][i], o1)
                assert info["final_info"]["episode_metrics"]["inferences"][i] == i1["episode_metrics"]["inferences"]
                o1, _ = env.reset()
            assert np.array_equal(obs[i], o1)
    assert finals >= 3


def test_disabled_autoreset_and_reset_mask():
    venv = TinySimVectorEnv(2, autoreset_mode=AutoresetMode.DISABLED, scenario="sync_1",
                            battery={"capacity_mah": 0.0003})  # fmt: skip
    venv.reset()
    term = np.zeros(2, dtype=bool)
    while not term.any():
        _, _, term, _, _ = venv.step(np.array([0, 1]))  # model 0 dies first
    assert term.tolist() == [True, False]
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        venv.step(np.array([0, 1]))
    before = venv.OBS[1].copy()
    obs, _ = venv.reset(options={"reset_mask": np.array([True, False])})
    assert np.array_equal(obs[1], before) and obs[0][0] == pytest.approx(1.0, abs=1e-3)
    venv.step(np.array([0, 1]))


def test_max_episode_steps_truncates():
    venv = gym.make_vec("TinySim-v0", num_envs=2, max_episode_steps=10)
    venv.reset(seed=0)
    for step in range(1, 12):
        _, rew, term, trunc, info = venv.step(np.array([1, 2]))
        if step == 10:
            assert trunc.all() and not term.any() and "episode_metrics" in info
        elif step == 11:  # next-step autoreset
            assert not trunc.any() and (rew == 0).all()


def test_make_vec_uses_the_vector_entry_point():
    venv = gym.make_vec("TinySim-load-v0", num_envs=4)
    assert isinstance(venv.unwrapped, TinySimVectorEnv)
    assert venv.observation_space.shape == (4, 3) and venv.action_space.shape == (4,)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = venv.reset(seed=1)
    assert obs in venv.observation_space
    obs, rew, *_ = venv.step(venv.action_space.sample())
    assert obs in venv.observation_space and rew.dtype == np.float64
    sync = gym.make_vec("TinySim-load-v0", num_envs=4, vectorization_mode="sync")
    sobs, _ = sync.reset(seed=1)
    assert np.array_equal(sobs, venv.reset(seed=1)[0])  # sub-env i seeded with seed + i in both


def test_action_masks_match_single_envs():
    venv = TinySimVectorEnv(3, **KW)
    venv.reset(seed=0)
    envs, _ = singles(3, 0, **KW)
    for _ in range(400):
        masks = venv.action_masks()
        assert masks.shape == (3, 10) and masks.dtype == bool and masks.any(axis=1).all()
        for i, env in enumerate(envs):
            assert np.array_equal(masks[i], env.action_masks())
        a = np.array([0, 0, 9])
        _, _, term, _, _ = venv.step(a)
        for i, env in enumerate(envs):
            if env.step(int(a[i]))[2]:
                env.reset()
        if term.any():
            break


def test_observations_inside_bounds_and_copied():
    venv = TinySimVectorEnv(4, scenario="usps-l476-async1", obs_horizon=True, obs_last_action=True,
                            obs_arrival_rate=True, drop_window=3, **SMALL)  # fmt: skip
    obs0, _ = venv.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(1500):
        obs, *_ = venv.step(rng.integers(10, size=4))
        assert obs.dtype == np.float32 and obs in venv.observation_space
    assert not np.shares_memory(obs, venv.OBS) and not np.shares_memory(obs0, obs)


def test_misuse():
    venv = TinySimVectorEnv(2)
    with pytest.raises(gym.error.ResetNeeded):
        venv.step(np.array([0, 0]))
    venv.reset(seed=0)
    for bad in (np.array([0, 10]), np.array([-1, 0]), np.array([0, 1, 2]), np.array([0.5, 1.0]), [[0, 1]]):
        with pytest.raises(gym.error.InvalidAction):
            venv.step(bad)
    with pytest.raises(TinySimError):
        venv.reset(options={"bogus": 1})
    with pytest.raises(TinySimError):
        venv.reset(seed=[1, 2, 3])
    with pytest.raises(ConfigError):
        TinySimVectorEnv(0)
    with pytest.raises(ConfigError):
        TinySimVectorEnv(2, autoreset_mode="sometimes")
    venv.step([0, 1])  # lists are fine


def test_scenario_switch_and_list_seeds():
    venv = TinySimVectorEnv(2, scenario="sync_1")
    obs, _ = venv.reset(seed=[5, 6], options={"scenario": "usps-l476-async1"})
    assert venv.scenario.name == "usps-l476-async1"
    envs = [TinySimEnv(scenario="usps-l476-async1") for _ in range(2)]
    assert np.array_equal(obs, np.stack([e.reset(seed=s)[0] for e, s in zip(envs, (5, 6), strict=True)]))


def test_pickle_mid_episode():
    venv = TinySimVectorEnv(3, **KW)
    venv.reset(seed=1)
    for _ in range(20):
        venv.step(np.array([1, 2, 3]))
    clone = pickle.loads(pickle.dumps(venv))
    for eng, row in zip(clone.engines, clone.ST, strict=True):
        assert np.shares_memory(eng.ST, row)  # the engines see their rows again
    rng = np.random.default_rng(2)
    for _ in range(1500):
        a = rng.integers(10, size=3)
        x, y = venv.step(a), clone.step(a)
        for u, v in zip(x[:4], y[:4], strict=True):
            assert np.array_equal(u, v)
    assert clone.engine(0).metrics() == venv.engine(0).metrics()


# ------------------------------------------------------------------ SB3 adapter


def test_sb3_adapter_matches_and_reports_terminal_observation():
    vec = TinySimVecEnv(3, **KW)
    vec.seed(11)
    obs = vec.reset()
    envs, obs1 = singles(3, 11, **KW)
    assert np.array_equal(obs, obs1)
    ends = 0
    for _ in range(1500):
        a = np.array([0, 4, 9])
        obs, rew, done, infos = vec.step(a)
        assert rew.dtype == np.float32 and len(infos) == 3
        for i, env in enumerate(envs):
            o1, r1, t1, _, i1 = env.step(int(a[i]))
            assert rew[i] == np.float32(r1) and done[i] == t1
            if t1:
                ends += 1
                assert np.array_equal(infos[i]["terminal_observation"], o1)
                assert infos[i]["TimeLimit.truncated"] is False
                assert infos[i]["episode_metrics"] == i1["episode_metrics"]
                o1, _ = env.reset()
            else:
                assert infos[i] == {}
            assert np.array_equal(obs[i], o1)
    assert ends >= 3
    masks = vec.env_method("action_masks")
    assert len(masks) == 3 and masks[0].shape == (10,)
    assert vec.has_attr("action_masks") and vec.get_attr("render_mode") == [None] * 3
    assert vec.get_attr("engine", indices=[1])[0] is vec.venv.engines[1]
    assert vec.env_is_wrapped(gym.Wrapper) == [False] * 3
    with pytest.raises(AttributeError):
        vec.env_method("render")
    clone = pickle.loads(pickle.dumps(vec))
    a = np.array([1, 1, 1])
    assert np.array_equal(clone.step(a)[0], vec.step(a)[0])


def test_sb3_algorithms_accept_the_adapter():
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    vec = VecMonitor(TinySimVecEnv(4, **KW))
    model = PPO("MlpPolicy", vec, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    model = MaskablePPO("MlpPolicy", vec, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    action, _ = model.predict(vec.reset(), action_masks=np.stack(vec.env_method("action_masks")))
    assert action.shape == (4,)


def test_gymnasium_vector_wrappers_work():
    venv = gym.wrappers.vector.RecordEpisodeStatistics(gym.make_vec("TinySim-v0", num_envs=3, **SMALL))
    venv.reset(seed=0)
    for _ in range(3000):
        _, _, term, _, info = venv.step(np.array([0, 1, 2]))
        if term.any():
            break
    assert info["_episode"].tolist() == term.tolist() and info["episode"]["l"][term].min() > 0
