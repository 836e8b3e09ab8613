"""Trusting saved agents and runs: the safe pair loads, a pickle only on request, resume and logs stay honest.

A small run is trained once (the horizon scenario shrunk to 5 s on 0.01 mAh, with ``VecNormalize`` so the
saved statistics matter); every test reads or copies it.
"""

import base64
import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support import tiny_horizon
from tinysim_gym.cli import main

SMALL = tiny_horizon("tiny-trust")
FAST = ["n_envs=2", "eval_freq=512", "checkpoint_freq=512", "eval_seeds=[100]", "env_kwargs.decisions_per_step=32",
        "n_steps=64", "batch_size=64", "n_epochs=2", "normalize={norm_obs: true, norm_reward: false}"]
STEPS = 1536


def _one_line_error(capsys) -> str:
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("trust")
    (d / "tiny.yaml").write_text(yaml.safe_dump(SMALL), encoding="utf-8")
    return d


def _train(workdir, steps=STEPS, extra=(), log="runs"):
    argv = ["train", "--algo", "ppo", "--scenario", str(workdir / "tiny.yaml"), "--timesteps", str(steps),
            "--log-dir", str(workdir / log), "--quiet", "--hyperparams", *FAST, *extra]
    assert main(argv) == 0
    return max((workdir / log / SMALL["name"]).glob("ppo_*"), key=lambda p: int(p.name.split("_")[-1]))


@pytest.fixture(scope="module")
def run(workdir):
    return _train(workdir)


# ------------------------------------------------------------------------------------ the crafted zip


class _Payload:
    """Unpickling this makes a directory: what a malicious ``data`` entry would do, harmlessly."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _crafted_zip(path: Path, marker: Path) -> Path:
    """An SB3-style zip whose ``data`` entry holds a pickled payload, as SB3's loader would unpickle it."""
    blob = base64.b64encode(pickle.dumps(_Payload(marker))).decode()
    data = {"policy_class": {":type:": "<class 'abc.ABCMeta'>", ":serialized:": blob}, "n_envs": 1}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data", json.dumps(data))
        zf.writestr("_stable_baselines3_version", "2.3.0")
    return path


def test_the_crafted_payload_is_live(tmp_path):
    marker = tmp_path / "control-ran"
    entry = json.loads(zipfile.ZipFile(_crafted_zip(tmp_path / "c.zip", marker)).read("data"))
    pickle.loads(base64.b64decode(entry["policy_class"][":serialized:"]))
    assert marker.is_dir()  # so the marker's absence below means the payload never ran


def test_evaluate_refuses_a_crafted_zip_and_runs_no_payload(run, tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    fake = tmp_path / "fake_run"
    fake.mkdir()
    shutil.copy(run / "run.yaml", fake / "run.yaml")  # a plausible run directory around it
    crafted = _crafted_zip(fake / "best_model.zip", marker)
    for agent in (crafted, fake):
        assert main(["evaluate", "--agent", str(agent), "--seeds", "1", "--no-baselines"]) == 2
        msg = _one_line_error(capsys)
        assert "--trust-pickle" in msg and "unpickled" in msg
        assert not marker.exists()


def test_a_sweep_never_unpickles_an_agent(workdir, tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    crafted = _crafted_zip(tmp_path / "best_model.zip", marker)
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"name": "crafted", "scenario": str(workdir / "tiny.yaml"),
                                     "policies": [{"agent": str(crafted), "label": "x"}], "seeds": [0]}))
    main(["sweep", str(sweep), "--out", str(tmp_path / "s.csv"), "--processes", "1"])
    capsys.readouterr()
    assert not marker.exists()


def test_resume_needs_trust_pickle_and_runs_no_payload(run, tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    fake = tmp_path / "fake_run"
    (fake / "checkpoints").mkdir(parents=True)
    shutil.copy(run / "run.yaml", fake / "run.yaml")
    _crafted_zip(fake / "checkpoints" / "model_512_steps.zip", marker)
    before = sorted(p.name for p in fake.rglob("*"))
    assert main(["train", "--resume", str(fake), "--quiet"]) == 2
    msg = _one_line_error(capsys)
    assert "--trust-pickle" in msg and "optimiser" in msg
    assert not marker.exists() and sorted(p.name for p in fake.rglob("*")) == before


# ------------------------------------------------------------------------------------ the safe pair


def test_every_saved_model_has_its_safe_pair(run):
    zips = [run / "best_model.zip", run / "final_model.zip", *(run / "checkpoints").glob("model_*_steps.zip")]
    assert len(zips) >= 4
    for z in zips:
        assert z.with_suffix(".safetensors").is_file() and z.with_suffix(".agent.json").is_file(), z
    desc = json.loads((run / "best_model.agent.json").read_text())
    assert desc["algorithm"] == "ppo" and desc["normalization"]["norm_obs"] is True
    assert desc["observation_features"] == ["soc", "buffer_fill", "recent_drops", "horizon_elapsed"]
    extra = desc["extra"]
    assert extra["scenario"] == "tiny-trust" and extra["scenario_config"]["horizon_ms"] == 5000
    assert extra["env_config"]["decisions_per_step"] == 32 and extra["hyperparams"]["n_envs"] == 2


def test_the_safe_pair_gives_the_figures_of_the_trusted_zip(run, tmp_path, capsys, monkeypatch):
    argv = ["--seeds", "3", "--no-baselines", "--json"]
    trusted = tmp_path / "zip_only"
    trusted.mkdir()
    for name in ("run.yaml", "best_model.zip", "best_model_vecnormalize.pkl"):
        shutil.copy(run / name, trusted / name)
    assert main(["evaluate", "--agent", str(trusted), *argv]) == 2  # no pair: refused without the flag
    assert "--trust-pickle" in _one_line_error(capsys)
    assert main(["evaluate", "--agent", str(trusted), "--trust-pickle", *argv]) == 0
    from_zip = json.loads(capsys.readouterr().out)

    import cloudpickle
    import torch

    def refuse(*_a, **_k):
        raise AssertionError("the safe pair was loaded by unpickling")

    for mod, name in [(pickle, "loads"), (pickle, "load"), (cloudpickle, "loads"), (cloudpickle, "load"),
                      (torch, "load")]:
        monkeypatch.setattr(mod, name, refuse)
    assert main(["evaluate", "--agent", str(run), *argv]) == 0
    from_pair = json.loads(capsys.readouterr().out)
    assert from_pair == from_zip
    agent_row = next(r for r in from_pair if r["policy"] == "agent-ppo")
    assert agent_row["seeds"] == 3
    for path in (run / "best_model.agent.json", run / "best_model.safetensors"):  # either file names the pair
        assert main(["evaluate", "--agent", str(path), *argv]) == 0
        assert json.loads(capsys.readouterr().out) == from_zip


def test_a_safe_pair_of_another_algorithm_than_its_run_is_refused(run, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(run, other)
    info = yaml.safe_load((other / "run.yaml").read_text())
    info["algo"] = "a2c"
    (other / "run.yaml").write_text(yaml.safe_dump(info))
    assert main(["evaluate", "--agent", str(other), "--seeds", "1", "--no-baselines"]) == 2
    msg = _one_line_error(capsys)
    assert "ppo" in msg and "a2c" in msg


def test_evaluate_bounds_the_seed_count(run, capsys):
    assert main(["evaluate", "--agent", str(run), "--seeds", "10001"]) == 2
    assert "1..10000" in _one_line_error(capsys)
    from agents.evaluation import evaluate_agent
    from tinysim_gym.errors import TinySimError

    with pytest.raises(TinySimError, match="1..10000"):
        evaluate_agent(run, seeds=list(range(10_001)), baselines=False)


# ------------------------------------------------------------------------------------ resume and logs


def _scalars(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [e.step for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_a_resumed_kill_leaves_each_step_once_and_evaluates_on_the_grid(workdir, capsys):
    run = _train(workdir, log="killed")
    steps_before = _scalars(run)
    assert max(steps_before["eval/weighted_accuracy"]) > 1024
    # a kill after the checkpoint at 1024: the events past it stay, the later checkpoints never landed
    for p in (run / "checkpoints").iterdir():
        if int(p.name.split("_")[1]) > 1024:
            p.unlink()
    assert main(["train", "--resume", str(run), "--timesteps", "2048", "--quiet", "--trust-pickle"]) == 0
    capsys.readouterr()
    steps = _scalars(run)
    for tag in ("eval/weighted_accuracy", "train/loss", "rollout/ep_rew_mean"):
        assert steps[tag] == sorted(set(steps[tag])), tag  # one point a step (an update, an evaluation), in order
    # SB3 writes an update's losses at the next rollout: 256..1024 from the first session (its points past the
    # checkpoint hidden), then 1280..2048 from the resumed one
    assert steps["train/loss"] == [*range(256, 1025, 128), *range(1280, 2049, 128)]
    ev = steps["eval/weighted_accuracy"]
    assert [s for s in ev if s > 1024] == [1536, 2048]  # not at the resumed session's first step
    saved = sorted(int(p.name.split("_")[1]) for p in (run / "checkpoints").glob("model_*_steps.zip"))
    assert [s for s in saved if s > 1024] == [1536, 2048]


# ------------------------------------------------------------------------------------ hyperparameter files


@pytest.mark.parametrize("key", ["vec_env_wrapper", "env_wrapper"])
def test_a_hyperparameter_file_cannot_name_arbitrary_code(workdir, tmp_path, capsys, monkeypatch, key):
    marker = tmp_path / "imported"
    (tmp_path / "evil_wrappers.py").write_text(f"import os\nos.mkdir({str(marker)!r})\nclass W:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    bad = tmp_path / "bad.yaml"
    zoo_file = {"TinySim-v0": {"policy": "MlpPolicy"}, "tinysim-train": {"default": {key: ["evil_wrappers.W"]}}}
    bad.write_text(yaml.safe_dump(zoo_file))
    log = tmp_path / "runs"
    assert main(["train", "--algo", "ppo", "--scenario", str(workdir / "tiny.yaml"), "--log-dir", str(log),
                 "--hyperparams-file", str(bad), "--timesteps", "64"]) == 2
    msg = _one_line_error(capsys)
    assert "evil_wrappers.W" in msg and "not an allowed" in msg
    assert not marker.exists() and not log.exists()
    # the same through --hyperparams
    assert main(["train", "--algo", "ppo", "--scenario", str(workdir / "tiny.yaml"), "--log-dir", str(log),
                 "--timesteps", "64", "--hyperparams", f"{key}=[os.system]"]) == 2
    assert "not an allowed" in _one_line_error(capsys)


# ------------------------------------------------------------------------------------ randomised training


def test_training_on_a_randomised_scenario_logs_capacities_spanning_the_range(tmp_path, capsys):
    argv = ["train", "--algo", "ppo", "--scenario", "usps-random-horizon", "--timesteps", "1024",
            "--log-dir", str(tmp_path), "--quiet", "--hyperparams", "n_envs=4", "n_steps=64", "batch_size=128",
            "n_epochs=1", "eval_freq=0", "checkpoint_freq=0", "eval_seeds=[100]",
            "env_kwargs.decisions_per_step=4096"]
    assert main(argv) == 0
    capsys.readouterr()
    run = tmp_path / "usps-random-horizon" / "ppo_1"
    seen = yaml.safe_load((run / "run.yaml").read_text())["train_capacity_mah"]
    assert seen["episodes"] > 100
    assert 0.05 <= seen["min"] < 0.055 and 0.145 < seen["max"] <= 0.15  # the range is [0.05, 0.15]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
    acc.Reload()
    caps = np.array([e.value for e in acc.Scalars("tinysim/train/capacity_mah")])
    assert len(caps) == seen["episodes"]
    assert caps.min() == pytest.approx(seen["min"], rel=1e-6) and caps.max() == pytest.approx(seen["max"], rel=1e-6)
    assert len(np.unique(caps.round(6))) == len(caps)  # a fresh draw per episode, not one capacity
