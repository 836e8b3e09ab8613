"""The safe agent format: same actions as the SB3 model, strict validation, and no code run on load."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn
from sb3_contrib import MaskablePPO
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from agents.safe_agent import SafeAgent
from agents.safe_format import DESCRIPTION_SUFFIX, WEIGHTS_SUFFIX, load_safe, safe_paths, save_safe
from tinysim_gym.envs.registration import register_envs
from tinysim_gym.errors import TinySimError

ALGOS = {"ppo": PPO, "a2c": A2C, "dqn": DQN, "maskable_ppo": MaskablePPO}


def _make_env() -> gym.Env:
    register_envs()
    return gym.make("TinySim-v0")


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, np.ndarray]:
    """Observations and random masks (at least one allowed action per row).

    Real observations from random play (early in an episode they vary little), then as many drawn from the
    observation space, so that the actions compared cover most of the models.
    """
    env = _make_env()
    rng = np.random.default_rng(0)
    obs = []
    o, _ = env.reset(seed=0)
    for _ in range(400):
        obs.append(o)
        o, _, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
        if term or trunc:
            o, _ = env.reset()
    env.observation_space.seed(0)
    obs += [env.observation_space.sample() for _ in range(400)]
    m = rng.random((len(obs), env.action_space.n)) < 0.5
    m[np.arange(len(obs)), rng.integers(env.action_space.n, size=len(obs))] = True
    env.close()
    return np.asarray(obs, dtype=np.float32), m


@pytest.fixture(scope="module")
def normalizer() -> VecNormalize:
    """A VecNormalize with real statistics (a few hundred random steps), frozen as in evaluation."""
    vn = VecNormalize(DummyVecEnv([_make_env]), gamma=0.99)
    vn.seed(1)
    vn.reset()
    rng = np.random.default_rng(1)
    for _ in range(300):
        vn.step(rng.integers(10, size=1))
    vn.training = False
    return vn


def _model(algo: str, policy_kwargs: dict | None = None, seed: int = 0):
    env = _make_env()
    kw: dict = {"learning_starts": 0, "buffer_size": 1000} if algo == "dqn" else {"n_steps": 64}
    model = ALGOS[algo]("MlpPolicy", env, seed=seed, device="cpu", policy_kwargs=policy_kwargs, **kw)
    torch.manual_seed(seed)
    with torch.no_grad():  # untrained weights pick one model everywhere: spread them so actions vary
        for name, p in model.policy.named_parameters():
            p.normal_(0.0, 0.1 if name.endswith("bias") else 2.0 / p.shape[-1] ** 0.5)
    return model


def _sb3_actions(model, obs: np.ndarray, masks: np.ndarray | None) -> np.ndarray:
    if isinstance(model, MaskablePPO):
        actions, _ = model.predict(obs, deterministic=True, action_masks=masks)
    else:
        actions, _ = model.predict(obs, deterministic=True)
    return np.asarray(actions)


@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize("normalized", [False, True], ids=["raw", "vecnormalize"])
def test_loaded_agent_acts_exactly_as_the_sb3_model(tmp_path, batch, normalizer, algo, normalized):
    obs, masks = batch
    model = _model(algo)
    vn = normalizer if normalized else None
    paths = save_safe(model, tmp_path / "best_model.zip", vn, extra={"scenario": "usps-l476-async-horizon"})
    assert paths == (tmp_path / f"best_model{WEIGHTS_SUFFIX}", tmp_path / f"best_model{DESCRIPTION_SUFFIX}")
    agent = load_safe(paths.description)
    assert isinstance(agent, SafeAgent) and agent.algo == algo
    seen = vn.normalize_obs(obs) if vn is not None else obs
    use_masks = masks if algo == "maskable_ppo" else None
    want = _sb3_actions(model, seen, use_masks)
    got, state = agent.predict(obs, action_masks=use_masks)
    assert state is None
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) > 1  # the comparison covers more than one action
    np.testing.assert_array_equal(agent.act(obs, masks), want)
    assert agent.observation_space == model.observation_space and agent.action_space == model.action_space
    if vn is not None:
        np.testing.assert_array_equal(agent.normalize_obs(obs), vn.normalize_obs(obs))
        np.testing.assert_array_equal(agent.obs_rms.mean, vn.obs_rms.mean)
        assert agent.description.normalization.ret_rms.count == vn.ret_rms.count
    else:
        assert agent.obs_rms is None
    assert agent.extra == {"scenario": "usps-l476-async-horizon"}
    # a single observation, as SB3 answers it
    one, _ = agent.predict(obs[0], action_masks=None if use_masks is None else use_masks[0])
    assert one.shape == () and int(one) == int(want[0])


@pytest.mark.parametrize("algo, kwargs", [
    ("ppo", {"net_arch": [32, 16], "activation_fn": nn.ReLU, "ortho_init": False}),
    ("a2c", {"net_arch": {"pi": [8], "vf": [24, 24]}, "share_features_extractor": False}),
    ("dqn", {"net_arch": [16], "activation_fn": nn.Tanh}),
    ("maskable_ppo", {"net_arch": [64, 64], "activation_fn": nn.Tanh}),
])
def test_architectures_round_trip(tmp_path, batch, algo, kwargs):
    obs, masks = batch
    model = _model(algo, kwargs, seed=3)
    extra = {"observation_features": ["a", "b", "c", "d"], "env_config": {"note": "x [ y ]  z", "k": [1, [2.5]]}}
    agent = load_safe(save_safe(model, tmp_path, extra=extra).weights)
    assert agent.path == tmp_path / f"model{DESCRIPTION_SUFFIX}"
    assert agent.observation_features == ["a", "b", "c", "d"]
    assert agent.extra == {"env_config": {"note": "x [ y ]  z", "k": [1, [2.5]]}}  # kept exactly
    use_masks = masks if algo == "maskable_ppo" else None
    np.testing.assert_array_equal(agent.predict(obs, action_masks=use_masks)[0], _sb3_actions(model, obs, use_masks))
    assert load_safe(tmp_path).path == agent.path  # the directory names the same agent


def test_trained_ppo_round_trips(tmp_path, batch):
    obs, _ = batch
    model = PPO("MlpPolicy", _make_env(), n_steps=128, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(256)
    agent = load_safe(save_safe(model, tmp_path / "final_model").description)
    np.testing.assert_array_equal(agent.predict(obs)[0], _sb3_actions(model, obs, None))


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_masks_on_an_unmasked_algorithm_mask_its_scores(tmp_path, batch, algo):
    obs, masks = batch
    model = _model(algo, seed=5)
    agent = load_safe(save_safe(model, tmp_path / "m").description)
    with torch.no_grad():
        t = torch.as_tensor(obs)
        scores = model.q_net(t) if algo == "dqn" else model.policy.get_distribution(t).distribution.logits
    want = np.where(masks, scores.numpy(), -np.inf).argmax(axis=1)
    got, _ = agent.predict(obs, action_masks=masks)
    np.testing.assert_array_equal(got, want)
    assert masks[np.arange(len(got)), got].all()


# ------------------------------------------------------------------------------------- hostile files


@pytest.fixture
def saved(tmp_path):
    return save_safe(_model("ppo"), tmp_path / "best_model")


def _one_line_error(path) -> str:
    with pytest.raises(TinySimError) as info:
        load_safe(path)
    msg = str(info.value)
    assert "\n" not in msg and msg
    return msg


def _edit(paths, change) -> None:
    data = json.loads(paths.description.read_text())
    change(data)
    paths.description.write_text(json.dumps(data))


def test_truncated_weights_are_refused(saved):
    blob = saved.weights.read_bytes()
    saved.weights.write_bytes(blob[: len(blob) // 2])
    assert "weights_sha256" in _one_line_error(saved.description)


def test_garbage_weights_with_a_matching_hash_are_refused(saved):
    import hashlib

    saved.weights.write_bytes(b"\xff" * 64)
    _edit(saved, lambda d: d.update(weights_sha256=hashlib.sha256(b"\xff" * 64).hexdigest()))
    assert "not a safetensors file" in _one_line_error(saved.description)


def test_a_wrong_tensor_shape_is_refused(saved):
    _edit(saved, lambda d: d["tensors"]["action_net.weight"].update(shape=[10, 63]))
    msg = _one_line_error(saved.description)
    assert "tensors.action_net.weight" in msg and "[10, 64]" in msg


def test_an_architecture_that_does_not_fit_the_tensors_is_refused(saved):
    _edit(saved, lambda d: d["policy"].update(net_arch=[32, 32]))
    assert "does not fit" in _one_line_error(saved.description)


def test_an_unknown_algorithm_is_refused_naming_the_allowed_ones(saved):
    _edit(saved, lambda d: d.update(algorithm="sac"))
    msg = _one_line_error(saved.weights.with_name("best_model"))  # the stem names it too
    assert "algorithm" in msg and "'ppo'" in msg and "'maskable_ppo'" in msg


def test_an_activation_outside_the_allow_list_is_refused(saved):
    _edit(saved, lambda d: d["policy"].update(activation_fn="os.system"))
    msg = _one_line_error(saved.weights)
    assert "policy.activation_fn" in msg and "'tanh'" in msg and "'relu'" in msg


@pytest.mark.parametrize("change", [
    lambda d: d["policy"].update(class_name="builtins.eval"),
    lambda d: d["policy"].update(class_name="DQNPolicy"),
    lambda d: d["policy"].update(features_extractor="NatureCNN"),
    lambda d: d.update(format_version=2),
    lambda d: d.update(unexpected={"a": 1}),
    lambda d: d["observation_space"].update(low=[0.0]),
    lambda d: d.update(observation_features=["only-one"]),
])
def test_other_bad_descriptions_are_one_line(saved, change):
    _edit(saved, change)
    _one_line_error(saved.description)


def test_missing_or_non_json_descriptions_are_one_line(tmp_path, saved):
    saved.description.write_bytes(b"\x00not json")
    assert "not a JSON document" in _one_line_error(saved.description)
    assert "no safe-format description" in _one_line_error(tmp_path / "nothing")
    os.mkfifo(tmp_path / "fifo.agent.json")
    assert "not a regular file" in _one_line_error(tmp_path / "fifo.agent.json")  # refused, never waited on
    good = save_safe(_model("dqn"), tmp_path / "fifo_weights")
    good.weights.unlink()
    os.mkfifo(good.weights)
    assert "not a regular file" in _one_line_error(good.description)


def test_save_refuses_what_it_cannot_describe_and_writes_nothing(tmp_path):
    with pytest.raises(TinySimError, match="extra.scenario"):
        save_safe(_model("ppo"), tmp_path / "m", extra={"scenario": object()})
    with pytest.raises(TinySimError, match="activation"):
        save_safe(_model("ppo", {"activation_fn": nn.Hardswish}), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_leaves_the_previous_pair(tmp_path, monkeypatch, batch):
    first = _model("ppo", seed=1)
    paths = save_safe(first, tmp_path / "best_model")
    import agents.safe_format as sf

    def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(sf, "_dumps", broken)
    with pytest.raises(OSError):
        save_safe(_model("ppo", seed=2), tmp_path / "best_model")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([paths.weights.name, paths.description.name])
    kept = load_safe(paths.description).predict(batch[0])[0]
    np.testing.assert_array_equal(kept, _sb3_actions(first, batch[0], None))
    with pytest.raises(OSError):
        save_safe(first, tmp_path / "other")
    assert not safe_paths(tmp_path / "other").weights.exists()  # both files or neither


# ------------------------------------------------------------------------------- a crafted SB3 zip


class _Payload:
    """Unpickling this makes a directory: what a malicious ``data`` entry would do, harmlessly."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _crafted_zip(path: Path, marker: Path) -> None:
    """An SB3-style zip whose ``data`` entry names a pickled payload, as SB3's loader would unpickle it."""
    blob = base64.b64encode(pickle.dumps(_Payload(marker))).decode()
    data = {"policy_class": {":type:": "<class 'abc.ABCMeta'>", ":serialized:": blob}, "n_envs": 1}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data", json.dumps(data))
        zf.writestr("_stable_baselines3_version", "2.3.0")


def test_a_crafted_zip_is_never_unpickled(tmp_path, monkeypatch, batch):
    marker, control = tmp_path / "payload-ran", tmp_path / "control-ran"
    crafted, control_zip = tmp_path / "best_model.zip", tmp_path / "control.zip"
    _crafted_zip(crafted, marker)
    _crafted_zip(control_zip, control)
    # the payload is live: the entry SB3 would hand to cloudpickle runs when unpickled
    entry = json.loads(zipfile.ZipFile(control_zip).read("data"))["policy_class"][":serialized:"]
    pickle.loads(base64.b64decode(entry))
    assert control.is_dir()

    def refuse(*_a, **_k):
        raise AssertionError("load_safe unpickled something")

    import cloudpickle

    for mod, name in [(pickle, "loads"), (pickle, "load"), (cloudpickle, "loads"), (cloudpickle, "load"),
                      (torch, "load")]:
        monkeypatch.setattr(mod, name, refuse)

    msg = _one_line_error(crafted)  # no safe files beside it: refused, pointing at the flag
    assert "--trust-pickle" in msg
    assert not marker.exists()

    model = _model("ppo", seed=7)
    save_safe(model, crafted)  # now the safe pair sits beside the crafted zip: that pair is what loads
    agent = load_safe(crafted)
    np.testing.assert_array_equal(agent.predict(batch[0])[0], _sb3_actions(model, batch[0], None))
    assert not marker.exists()
