"""rl-baselines3-zoo reads configs/zoo as is: an entry per registered id, the zoo's own syntax, and a short
training run through ``python -m rl_zoo3.train`` that saves a model which ``record_video`` loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tinysim_gym  # noqa: F401 - registers the ids
from agents.zoo_format import PROJECT_KEY
from tinysim_gym.envs.registration import ENV_IDS

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "configs" / "zoo"
ALGOS = ("ppo", "a2c", "dqn", "maskable_ppo")  # the zoo has no MaskablePPO: that file is checked against it
# rl_zoo3.record_video has no --gym-packages: import the package, then run the zoo's module (docs/zoo.md)
RECORD_VIDEO = (
    "import runpy, sys, tinysim_gym; sys.argv[0] = 'record_video'; "
    "runpy.run_module('rl_zoo3.record_video', run_name='__main__')"
)


def zoo(args, cwd, timeout=240, module=True):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", *args] if module else [sys.executable, "-c", *args]
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


@pytest.mark.parametrize("algo", ALGOS)
def test_zoo_files_have_an_entry_per_id_in_the_zoos_syntax(algo):
    from rl_zoo3 import ALGOS as ZOO_ALGOS
    from sb3_contrib import MaskablePPO
    from torch import nn  # noqa: F401 - the zoo evaluates policy_kwargs with nn in scope

    with open(ZOO / f"{algo}.yml") as fh:
        entries = yaml.safe_load(fh)
    assert set(entries) == set(ENV_IDS) | {PROJECT_KEY}  # the zoo reads only its --env's entry
    entries.pop(PROJECT_KEY)
    cls = ZOO_ALGOS.get(algo, MaskablePPO)
    zoo_keys = {"policy", "n_envs", "n_timesteps", "normalize", "env_kwargs", "policy_kwargs"}
    for env_id, hp in entries.items():
        assert {"policy", "n_envs", "n_timesteps", "normalize"} <= set(hp), env_id
        assert isinstance(hp["policy_kwargs"], str) and hp["policy_kwargs"].startswith("dict(")
        assert isinstance(eval(hp["policy_kwargs"]), dict)  # as the zoo does
        unknown = set(hp) - zoo_keys - set(cls.__init__.__code__.co_varnames)
        assert not unknown, (env_id, unknown)  # nothing the algorithm would reject
        for key in hp.get("env_kwargs", {}):
            assert key in ENV_IDS[env_id], (env_id, key)  # env settings the env knows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2048-step zoo run on our file (~15 s on a shared 2-core machine: the zoo's imports dominate)."""
    tmp = tmp_path_factory.mktemp("zoo")
    logs = tmp / "logs"
    zoo(["rl_zoo3.train", "--algo", "ppo", "--env", "TinySim-v0", "--gym-packages", "tinysim_gym", "-conf",
         str(ZOO / "ppo.yml"), "-n", "2048", "-f", str(logs), "--seed", "0", "--eval-freq", "-1"], tmp)  # fmt: skip
    return tmp, logs


def test_zoo_trains_on_our_file(trained):
    _, logs = trained
    run = logs / "ppo" / "TinySim-v0_1"
    assert (run / "TinySim-v0.zip").is_file() and (run / "TinySim-v0" / "config.yml").is_file()
    saved = dict(yaml.load((run / "TinySim-v0" / "config.yml").read_text(), Loader=yaml.UnsafeLoader))
    assert saved["n_steps"] == 256 and saved["n_envs"] == 8  # the zoo read our entry, not its defaults
    assert "eval_freq" not in saved and "vec_env_wrapper" not in saved  # nor tinysim train's block


def test_zoo_records_a_video_of_the_trained_agent(trained):
    # record_video loads the model as enjoy does, and renders the dashboard (~20 s: a second zoo process)
    tmp, logs = trained
    videos = tmp / "videos"
    zoo([RECORD_VIDEO, "--algo", "ppo", "--env", "TinySim-v0", "-f", str(logs), "-n", "50", "-o", str(videos)],
        tmp, module=False)  # fmt: skip
    assert len(list(videos.glob("*.mp4"))) == 1
