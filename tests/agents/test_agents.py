"""Agents: training for every algorithm, TensorBoard scalars, images, HParams and layout (files and a live
server), resume, reload, errors.

Everything runs on a small copy of the horizon training scenario (5 s horizon, 0.01 mAh: ~2.5k decisions
per episode) with a few thousand steps, so the whole file stays well under a minute and a half.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support import tiny_horizon
from tinysim_gym.cli import main
from tinysim_gym.errors import TinySimError

SMALL = tiny_horizon("tiny-horizon")
FAST = [
    "n_envs=2", "eval_freq=512", "checkpoint_freq=512", "eval_seeds=[100]",
    "env_kwargs.decisions_per_step=32",
]  # fmt: skip
ALGO_FAST = {
    "ppo": ["n_steps=64", "batch_size=64", "n_epochs=2"],
    "maskable_ppo": ["n_steps=64", "batch_size=64", "n_epochs=2"],
    "a2c": ["n_steps=8"],
    "dqn": ["learning_starts=64", "buffer_size=4096", "batch_size=32", "train_freq=4"],
}
STEPS = 1536


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("agents")
    (d / "tiny.yaml").write_text(yaml.safe_dump(SMALL), encoding="utf-8")
    return d


def _train(workdir, algo, steps=STEPS, extra=()):
    argv = ["train", "--algo", algo, "--scenario", str(workdir / "tiny.yaml"), "--timesteps", str(steps),
            "--log-dir", str(workdir / "runs"), "--quiet", "--hyperparams", *FAST, *ALGO_FAST[algo], *extra]
    assert main(argv) == 0
    runs = sorted((workdir / "runs" / "tiny-horizon").glob(f"{algo}_*"), key=lambda p: int(p.name.split("_")[-1]))
    return runs[-1]


@pytest.fixture(scope="module")
def ppo_run(workdir):
    return _train(workdir, "ppo")


def _scalars(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


# --------------------------------------------------------------------------------------------- training


@pytest.mark.parametrize("algo", ["a2c", "dqn", "maskable_ppo"])
def test_every_algorithm_trains_end_to_end(workdir, algo):
    run = _train(workdir, algo)
    info = yaml.safe_load((run / "run.yaml").read_text())
    assert info["algo"] == algo and info["num_timesteps"] >= STEPS
    assert (run / "final_model.zip").is_file() and (run / "best_model.zip").is_file()
    assert any((run / "checkpoints").glob("model_*_steps.zip"))
    tags = _scalars(run)
    assert "tinysim/weighted_accuracy" in tags and "eval/weighted_accuracy" in tags


def test_ppo_run_files_and_tinysim_scalars(ppo_run):
    assert ppo_run.name == "ppo_1" and ppo_run.parent.name == "tiny-horizon"
    tags = _scalars(ppo_run)
    for key in ("weighted_accuracy", "dropped", "operating_time_s", "energy_mah", "soc_end"):
        assert f"tinysim/{key}" in tags, key
    shares = [t for t in tags if t.startswith("tinysim/share/model_")]
    assert len(shares) == 10
    wa = tags["tinysim/weighted_accuracy"]
    assert len(wa) >= 5 and all(0.0 <= v <= 100.0 for _, v in wa)  # one point per finished episode
    last_step = max(s for s, _ in wa)
    total = sum(v[-1][1] for t, v in tags.items() if t.startswith("tinysim/share/"))
    assert total == pytest.approx(1.0, abs=1e-4)
    assert last_step <= STEPS + 64
    assert "eval/weighted_accuracy" in tags and not any(t.startswith("tinysim/eval/") for t in tags)
    ev = np.load(ppo_run / "evaluations.npz")
    assert len(ev["timesteps"]) >= 2 and ev["weighted_accuracy"].shape[1] == 1


def test_tensorboard_dashboards_read_back(ppo_run):
    # one evaluation series, a usage image per evaluation, the HParams table and the custom-scalars layout
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(ppo_run), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    ev = np.load(ppo_run / "evaluations.npz")
    evals = acc.Scalars("eval/weighted_accuracy")
    assert [e.step for e in evals] == list(ev["timesteps"])  # each evaluation once, at its own step
    assert [e.value for e in evals] == pytest.approx(ev["weighted_accuracy"].mean(axis=1), abs=1e-4)
    assert not [t for t in acc.Tags()["scalars"] if t.startswith("tinysim/eval/")]
    images = acc.Images("eval/model_usage")
    assert [i.step for i in images] == list(ev["timesteps"]) and (images[0].width, images[0].height) == (640, 360)
    assert images[-1].encoded_image_string.startswith(b"\x89PNG")

    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    hp = yaml.safe_load((ppo_run / "run.yaml").read_text())["hyperparams"]
    assert start.hparams["n_steps"].number_value == hp["n_steps"] == 64
    assert start.hparams["algo"].string_value == "ppo" and start.hparams["scenario"].string_value == "tiny-horizon"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    metrics = {m.name.tag for m in experiment.metric_infos}
    assert {"final/weighted_accuracy", "final/best_weighted_accuracy"} <= metrics
    final = acc.Scalars("final/weighted_accuracy")
    assert [(e.step, e.value) for e in final] == [(evals[-1].step, pytest.approx(evals[-1].value))]
    best = acc.Scalars("final/best_weighted_accuracy")[0].value
    assert best == pytest.approx(ev["weighted_accuracy"].mean(axis=1).max(), abs=1e-4)

    layout = layout_pb2.Layout.FromString(acc.Tensors("custom_scalars__config__")[-1].tensor_proto.string_val[0])
    charts = {c.title: list(c.multiline.tag) for cat in layout.category for c in cat.chart}
    assert any("eval/weighted_accuracy" in tags and "tinysim/weighted_accuracy" in tags for tags in charts.values())


def test_a_trained_agent_records_a_minari_dataset_of_its_evaluation_episode(ppo_run, workdir, tmp_path, monkeypatch):
    import minari

    from agents.evaluation import run_agent

    out = tmp_path / "datasets"
    assert main(["dataset", "--policy", str(ppo_run), "--episodes", "1", "--out", str(out),
                 "--dataset-id", "ppo-tiny-v0"]) == 0  # fmt: skip
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(out))
    (ep,) = list(minari.load_dataset("ppo-tiny-v0").iterate_episodes())
    want = run_agent(ppo_run, str(workdir / "tiny.yaml"), 0)  # the same greedy episode, through the evaluation
    assert ep.infos["weighted_accuracy"][-1] == pytest.approx(want["weighted_accuracy"])
    assert ep.rewards.sum() / ep.infos["arrivals"][-1] * 100 == pytest.approx(want["weighted_accuracy"])
    assert ep.observations.shape[0] == len(ep.actions) + 1 and ep.terminations[-1]


def test_tensorboard_server_serves_tinysim_scalars(ppo_run):
    tb = Path(sys.executable).with_name("tensorboard")
    if not tb.exists():
        pytest.skip("tensorboard executable not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logdir = ppo_run.parent.parent
    proc = subprocess.Popen(
        [str(tb), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    run_name = f"tiny-horizon/{ppo_run.name}"
    try:
        tags = None
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/data/plugin/scalars/tags", timeout=2) as r:
                    data = json.load(r)
                if run_name in data and "tinysim/weighted_accuracy" in data[run_name]:
                    tags = data[run_name]
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert tags is not None, "tensorboard did not serve the run's tinysim/ tags in time"
        assert "tinysim/soc_end" in tags and "tinysim/share/model_4" in tags
        q = urllib.parse.urlencode({"run": run_name, "tag": "tinysim/weighted_accuracy"})
        with urllib.request.urlopen(f"{base}/data/plugin/scalars/scalars?{q}", timeout=5) as r:
            points = json.load(r)
        assert len(points) >= 5
        assert points == sorted(points, key=lambda p: p[1])  # [wall_time, step, value], steps increasing
        assert all(0.0 <= p[2] <= 100.0 for p in points)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_resume_continues_the_step_count_and_curve(workdir, ppo_run):
    before = _scalars(ppo_run)["tinysim/weighted_accuracy"]
    done = yaml.safe_load((ppo_run / "run.yaml").read_text())["num_timesteps"]
    assert main(["train", "--resume", str(ppo_run), "--timesteps", str(2 * STEPS), "--quiet", "--trust-pickle"]) == 0
    info = yaml.safe_load((ppo_run / "run.yaml").read_text())
    assert info["num_timesteps"] >= 2 * STEPS
    assert [s["from"] for s in info["sessions"]] == [0, done]
    after = _scalars(ppo_run)["tinysim/weighted_accuracy"]
    new = [s for s, _ in after if (s, _) not in before]
    assert new and min(new) > done  # the same curve goes on from where it stopped
    assert len(list(ppo_run.glob("events.out.tfevents.*"))) == 2
    assert not (workdir / "runs" / "tiny-horizon" / "ppo_2").exists()
    assert main(["train", "--resume", str(ppo_run), "--timesteps", str(STEPS), "--quiet", "--trust-pickle"]) == 2


def test_vecnormalize_statistics_are_saved_and_restored(workdir):
    run = _train(workdir, "ppo", steps=768, extra=["normalize={norm_obs: true, norm_reward: true}"])
    assert (run / "best_model_vecnormalize.pkl").is_file()
    ck = sorted((run / "checkpoints").glob("model_*_steps.zip"))
    assert all((run / "checkpoints" / f"{p.stem}_vecnormalize.pkl").is_file() for p in ck)
    assert main(["train", "--resume", str(run), "--timesteps", "1280", "--quiet", "--trust-pickle"]) == 0
    from agents.loading import load_agent

    agent = load_agent(run / "final_model.zip")
    assert agent.normalizer is not None and agent.normalizer.obs_rms.count > 1280


def test_saved_agent_reloads_and_evaluates_identically(ppo_run):
    from agents.loading import load_agent
    from agents.rollout import NumpyActor, policy_fn, run_seeds

    a1 = load_agent(ppo_run / "best_model.zip")
    a2 = load_agent(ppo_run / "best_model.zip")
    r1, u1 = run_seeds(policy_fn(a1.model), a1.env_config(), [0, 1], usage_points=20)
    r2, u2 = run_seeds(policy_fn(a2.model), a2.env_config(), [0, 1], usage_points=20)
    assert r1 == r2 and u1 == u2
    # the fast NumPy actor takes the same actions as SB3's predict
    obs = np.random.default_rng(0).random((256, 4), dtype=np.float32)
    fast = NumpyActor.build(a1.model)
    assert fast is not None
    np.testing.assert_array_equal(fast(obs), a1.model.predict(obs, deterministic=True)[0])
    # and the agent's episode is the env's episode for that seed, run by hand
    from tinysim_gym.envs.env import TinySimEnv

    env = TinySimEnv(a1.env_config())
    obs1, _ = env.reset(seed=1)
    done = False
    while not done:
        action, _ = a1.model.predict(obs1, deterministic=True)
        obs1, _, done, _, info = env.step(int(action))
    assert info["episode_metrics"] == r1[1]


def test_evaluate_command_table_json_csv_plot(ppo_run, tmp_path, capsys):
    agent = ppo_run / "best_model.zip"
    csv_path, png = tmp_path / "eval.csv", tmp_path / "eval.png"
    assert main(["evaluate", "--agent", str(agent), "--seeds", "2", "--json", "--csv", str(csv_path),
                 "--plot", str(png), "--processes", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = [r["policy"] for r in rows]
    assert names[-1] == "bound" and names[-2] == "agent-ppo" and "fuzzy" in names and "budget" in names
    agent_row = rows[-2]
    assert agent_row["seeds"] == 2 and agent_row["scenario"] == "tiny-horizon"
    assert set(rows[0]) <= set(agent_row) | {"note"}
    assert csv_path.read_text().splitlines()[0].startswith("policy,")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["evaluate", "--agent", str(agent), "--seeds", "1", "--no-baselines"]) == 0
    out = capsys.readouterr().out
    assert "agent-ppo" in out and "bound" in out and "weighted acc" in out


def test_evaluate_reports_each_held_out_scenario(ppo_run, workdir, tmp_path, capsys):
    agent = ppo_run / "best_model.zip"
    other = tmp_path / "tiny-other.yaml"  # a held-out combination: another interval and battery
    other.write_text(yaml.safe_dump({**SMALL, "name": "tiny-other", "battery": {"capacity_mah": 0.02},
                                     "workload": {**SMALL["workload"], "min_interval_ms": 3}}), encoding="utf-8")
    argv = ["evaluate", "--agent", str(agent), "--seeds", "1", "--processes", "1",
            "--scenarios", f"{workdir / 'tiny.yaml'},{other}"]
    assert main([*argv, "--json", "--csv", str(tmp_path / "e.csv"), "--plot", str(tmp_path / "e.png")]) == 0
    tables = json.loads(capsys.readouterr().out)
    assert [t["scenario"] for t in tables] == ["tiny-horizon", "tiny-other"]
    for t in tables:
        names = [r["policy"] for r in t["rows"]]
        assert names[-2:] == ["agent-ppo", "bound"] and "budget" in names
        assert t["rows"][-2]["scenario"] == t["scenario"]
    assert tables[0]["rows"][-1]["weighted_accuracy"] != tables[1]["rows"][-1]["weighted_accuracy"]
    assert sorted(p.name for p in tmp_path.glob("e-*.png")) == ["e-tiny-horizon.png", "e-tiny-other.png"]
    assert len((tmp_path / "e.csv").read_text().splitlines()) == 1 + sum(len(t["rows"]) for t in tables)
    # the table form: one table per scenario, under its name (a repeated --scenario adds to the list; a
    # single scenario prints its table alone, as before)
    assert main([*argv[:-2], "--scenario", str(other), "--no-baselines"]) == 0
    out = capsys.readouterr().out
    assert "scenario:" not in out and out.count("agent-ppo") == 1
    assert main([*argv[:-2], "--scenario", str(other), "--scenario", str(workdir / "tiny.yaml"),
                 "--no-baselines"]) == 0
    out = capsys.readouterr().out
    assert out.index("scenario: tiny-other") < out.index("scenario: tiny-horizon") and out.count("agent-ppo") == 2
    # a randomised scenario is a family, not a held-out combination; a scenario without a horizon changes
    # the observation: both are one-line errors
    rand = tmp_path / "rand.yaml"
    rand.write_text(yaml.safe_dump({**SMALL, "name": "rand",
                                    "randomize": {"battery.capacity_mah": {"range": [0.01, 0.02]}}}))
    assert main([*argv[:-2], "--scenario", str(rand), "--no-baselines"]) == 2
    assert "randomises battery.capacity_mah" in _one_line_error(capsys)
    assert main([*argv[:-2], "--scenario", "usps-l476-async1", "--no-baselines"]) == 2
    assert "horizon" in _one_line_error(capsys)


# --------------------------------------------------------------------------------------------- bad input


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("tinysim: error:") and "\n" not in err and "Traceback" not in err
    return err


def test_unknown_algorithm_and_scenario(workdir, tmp_path, capsys):
    log = tmp_path / "runs"
    assert main(["train", "--algo", "sac", "--scenario", "usps-l476-async1", "--log-dir", str(log)]) == 2
    assert "sac" in _one_line_error(capsys)
    assert main(["train", "--algo", "ppo", "--scenario", "no-such-scenario", "--log-dir", str(log)]) == 2
    assert "no-such-scenario" in _one_line_error(capsys)
    assert main(["train", "--algo", "ppo", "--scenario", "usps-l476-async1", "--log-dir", str(log),
                 "--hyperparams", "learning_rat=0.1"]) == 2
    assert "learning_rat" in _one_line_error(capsys)
    assert main(["evaluate", "--agent", str(tmp_path / "missing.zip")]) == 2
    _one_line_error(capsys)
    assert not log.exists()


ZOO_ENTRY = "TinySim-v0: {policy: MlpPolicy, n_steps: 64}\ntinysim-train:\n  default:\n"


@pytest.mark.parametrize(
    "text",
    [
        "TinySim-v0: [1, 2\n",  # not YAML
        "- just a list\n",  # not a mapping
        ZOO_ENTRY + "    n_steps: many\n",  # bad value
        ZOO_ENTRY + "    policy_kwargs: {activation_fn: swish}\n",
        ZOO_ENTRY + "    vec_env_wrapper: [no.such.Wrapper]\n",
        ZOO_ENTRY + "    vec_env_wrapper: [{agents.wrappers.ObjectiveReward: {sample_value: 7}}]\n",
        "TinySim-horizon-v0: {policy: MlpPolicy}\n",  # no entry for the scenario's id (TinySim-v0)
        "TinySim-v0: {policy_kwargs: 'dict(activation_fn=nn.Tanh, x=__import__(\"os\"))'}\n",  # code, not data
        "TinySim-v0: {policy_kwargs: 'dict(activation_fn=nn.Module)'}\n",
        "TinySim-v0: {policy: MlpPolicy}\ntinysim-train: [1]\n",
    ],
)
def test_malformed_hyperparameter_file(workdir, tmp_path, capsys, text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    log = tmp_path / "runs"
    argv = ["train", "--algo", "ppo", "--scenario", str(workdir / "tiny.yaml"), "--log-dir", str(log),
            "--hyperparams-file", str(bad), "--timesteps", "64"]
    assert main(argv) == 2
    _one_line_error(capsys)
    assert not log.exists()  # nothing half-written


def test_resume_without_checkpoint(workdir, tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    _one_line_error(capsys)
    empty = tmp_path / "empty_run"
    empty.mkdir()
    assert main(["train", "--resume", str(empty)]) == 2
    _one_line_error(capsys)
    (empty / "run.yaml").write_text(yaml.safe_dump({"algo": "ppo", "scenario_config": {}, "hyperparams": {}}))
    before = sorted(os.listdir(empty))
    assert main(["train", "--resume", str(empty)]) == 2
    assert "checkpoint" in _one_line_error(capsys)
    assert sorted(os.listdir(empty)) == before


def test_builtin_hyperparameter_files_validate():
    from agents import hyperparams as H

    for algo in H.ALGOS:
        for scenario in ("usps-l476-async-horizon", "usps-l476-async1", "sync_1"):
            hp, path = H.load(algo, scenario)
            assert path.name == f"{algo}.yml" and hp["n_timesteps"] > 0
    hp, _ = H.load("ppo", "usps-l476-async-horizon", overrides=H.parse_overrides(["env_kwargs.drop_window=8"]))
    assert hp["env_kwargs"]["drop_window"] == 8 and hp["env_kwargs"]["decisions_per_step"] > 1
    assert H.schedule("lin_3e-4", "x")(0.5) == pytest.approx(1.5e-4)


# --------------------------------------------------------------------------------------------- reward shaping


@pytest.mark.parametrize("batched", [True, False])
def test_objective_reward_return_is_affine_in_weighted_accuracy(workdir, batched):
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.vec_env import TinySimVecEnv
    from agents.wrappers import ObjectiveReward, SelectFeatures
    from tinysim_gym.envs.env import TinySimEnv

    cfg = {"scenario": str(workdir / "tiny.yaml"), "decisions_per_step": 16}
    inner = TinySimVecEnv(3, cfg) if batched else DummyVecEnv([lambda: TinySimEnv(cfg)] * 3)
    venv = SelectFeatures(ObjectiveReward(inner, sample_value=0.9, battery_potential=50.0, gamma=1.0, scale=2.0),
                          names=["recent_drops", "buffer_fill"])
    assert venv.observation_space.shape == (2,)
    venv.seed(5)
    obs = venv.reset()
    rng = np.random.default_rng(0)
    ret = np.zeros(3)
    found = {}
    for _ in range(10_000):
        obs, rew, dones, infos = venv.step(rng.integers(3, 7, size=3))  # models 3..6: some episodes die early
        assert obs.shape == (3, 2)
        ret += rew
        for i in np.flatnonzero(dones):
            if i not in found:
                found[i] = (ret[i], infos[i]["episode_metrics"])
        if len(found) == 3:
            break
    for total, m in found.values():
        counted = m["inferences"] + m["dropped"]
        expected = 2.0 * (counted * (m["weighted_accuracy"] / 100.0 - 0.9) - 50.0)  # potential: 0 - 50 * soc0
        assert total == pytest.approx(expected, rel=1e-4, abs=1e-3)


def test_run_agent_serves_sweeps(workdir, ppo_run, tmp_path, capsys):
    """``agents.run_agent`` (what ``tinysim sweep`` calls for ``agent:`` policies) gives the evaluation's episode."""
    import csv

    import agents
    from agents.loading import load_agent
    from agents.rollout import policy_fn, run_seeds

    a = load_agent(ppo_run / "best_model.zip")
    expected, _ = run_seeds(policy_fn(a.model), a.env_config(), [3])
    assert agents.run_agent(ppo_run / "best_model.zip", a.run["scenario_config"], 3) == expected[0]
    with pytest.raises(TinySimError, match="deterministic"):
        agents.run_agent(ppo_run / "best_model.zip", a.run["scenario_config"], 3, deterministic=False)
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"name": "agent-sweep", "scenario": str(workdir / "tiny.yaml"),
                                     "policies": [{"agent": str(ppo_run / "best_model.zip"), "label": "ppo"}],
                                     "seeds": [3]}), encoding="utf-8")
    out = tmp_path / "s.csv"
    assert main(["sweep", str(sweep), "--out", str(out), "--processes", "1"]) == 0
    capsys.readouterr()
    (row,) = list(csv.DictReader(out.open()))
    assert row["policy"] == "ppo" and not row["error"]
    assert float(row["weighted_accuracy"]) == pytest.approx(expected[0]["weighted_accuracy"], rel=1e-12)
