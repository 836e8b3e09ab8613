"""tinysim dataset writes a Minari dataset that minari.load_dataset reads back: the episodes' arrays as the env
gave them, rewards that sum to the episode's weighted accuracy figure, and one-line errors for bad input."""

from __future__ import annotations

import contextlib
import io
import os

import gymnasium as gym
import numpy as np
import pytest
import yaml

from tests.support import tiny_horizon
from tinysim_gym.cli import main

TINY = tiny_horizon("tiny", horizon_ms=2000, capacity_mah=0.004)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("datasets")
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    out = tmp / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["dataset", "--policy", "budget", "--scenario", str(tmp / "tiny.yaml"), "--episodes", "2",
                     "--seed", "7", "--out", str(out)]) == 0  # fmt: skip
    return tmp, out, printed.getvalue()


def _load(out, dataset_id, monkeypatch):
    import minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(out))
    return minari.load_dataset(dataset_id)


def test_the_dataset_loads_back_with_the_rewards_of_the_episodes(written, monkeypatch):
    tmp, out, printed = written
    assert "tinysim-tiny-budget-v0: 2 episodes" in printed
    assert sorted(p.name for p in out.iterdir()) == ["tinysim-tiny-budget-v0"]  # no temporary left behind
    ds = _load(out, "tinysim-tiny-budget-v0", monkeypatch)
    assert ds.total_episodes == 2
    episodes = list(ds.iterate_episodes())
    for i, ep in enumerate(episodes):
        # the same episode again, straight from the env and the heuristic
        from baselines import make

        env = gym.make("tinysim/TinySim-v0", scenario=str(tmp / "tiny.yaml"))
        policy = make("budget", env.unwrapped)
        obs, info = env.reset(seed=7 + i)
        actions, rewards = [], []
        done = False
        while not done:
            a = int(policy.predict(obs)[0])
            obs, r, term, trunc, info = env.step(a)
            actions.append(a), rewards.append(r)
            done = term or trunc
        env.close()
        assert list(ep.actions) == actions and np.allclose(ep.rewards, rewards)
        assert ep.observations.shape == (len(actions) + 1, env.observation_space.shape[0])
        assert ep.terminations[-1] and not ep.terminations[:-1].any() and not ep.truncations.any()
        # the horizon, no drop penalty: the return over the arrivals is the weighted accuracy (closed form)
        wa = info["episode_metrics"]["weighted_accuracy"]
        assert ep.rewards.sum() / ep.infos["arrivals"][-1] * 100 == pytest.approx(wa, rel=1e-9)
        assert ep.infos["weighted_accuracy"][-1] == pytest.approx(wa)
        assert ep.infos["action_mask"].shape == (len(actions) + 1, env.action_space.n)
        assert set(ep.infos["rewards"]) == {"accuracy", "drop_penalty"}
    assert ds.spec.env_spec.id == "tinysim/TinySim-v0" and ds.storage.metadata["algorithm_name"] == "budget"
    assert ds.recover_environment().unwrapped.scenario.name == "tiny"


@pytest.mark.parametrize("argv, message", [
    (["--policy", "no-such-policy", "--env", "tinysim/TinySim-v0"], "no-such-policy"),
    (["--policy", "budget", "--env", "NoSuch-v0"], "--env"),
    (["--policy", "budget", "--env", "tinysim/TinySim-v0", "--episodes", "0"], "--episodes"),
    (["--policy", "budget", "--env", "tinysim/TinySim-v0", "--dataset-id", "bad id"], "--dataset-id"),
    (["--policy", "budget", "--scenario", "TINY", "--dataset-id", "tinysim-tiny-budget-v0"], "exists"),
])  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(written, capsys, argv, message):
    tmp, out, _ = written
    argv = [str(tmp / "tiny.yaml") if a == "TINY" else a for a in argv]
    if "--episodes" not in argv:
        argv += ["--episodes", "1"]
    before = sorted(os.listdir(out))
    assert main(["dataset", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tinysim: error:") and "\n" not in err and message in err
    assert sorted(os.listdir(out)) == before
