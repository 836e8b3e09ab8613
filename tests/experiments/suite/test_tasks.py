"""Every built-in task: loads, is registered under its id, and passes Gymnasium's and SB3's env checkers."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from tinysim_gym.config import load_scenario
from tinysim_gym.config.suite import MAX_EPISODE_STEPS, load_task, task_names
from tinysim_gym.errors import ConfigError
from tinysim_gym.experiments.suite.tasks import env_id, suite_tasks, task_rows

TASKS = task_names()


def test_at_least_eight_tasks_easy_to_hard_each_saying_why() -> None:
    tasks = suite_tasks()
    assert len(tasks) >= 8, [t.name for t in tasks]
    assert [t.level for t in tasks] == sorted(t.level for t in tasks)
    for t in tasks:
        assert len(t.hard_because) > 40 and 1 <= t.env["max_steps"] <= MAX_EPISODE_STEPS
        load_scenario(t.scenario)  # a scenario any command accepts
    rows = task_rows(tasks)
    assert {"task", "env_id", "scenario", "description"} <= set(rows[0])


@pytest.mark.parametrize("task", TASKS)
def test_every_task_passes_gymnasium_and_sb3_checks(task: str) -> None:
    t = load_task(task)
    env = gym.make(env_id(t))
    assert env.unwrapped.settings.decisions_per_step == t.env.get("decisions_per_step", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checkers' advice on float32 bounds etc., not failures
        gym_check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=False)
    plain = gym.make(t.env_name())  # the alias without the namespace
    obs, _ = plain.reset(seed=1000)
    assert env.observation_space.contains(obs)
    vec = gym.make_vec(env_id(t), num_envs=2)
    vobs, _ = vec.reset(seed=1000)
    assert (vobs[0] == obs).all()  # the batched env gives sub-env 0 the single env's episode


def test_bad_task_files_name_the_field(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nlevel: 1\ndescription: d\nhard_because: h\nscenario: usps-l476-async1\nenv: {}\n")
    with pytest.raises(ConfigError, match="max_steps"):
        load_task(str(bad))
    with pytest.raises(ConfigError, match="unknown task"):
        load_task("no-such-task")
    bad.write_text("name: bad\nlevel: 11\ndescription: d\nhard_because: h\nscenario: x\nenv: {max_steps: 9}\n")
    with pytest.raises(ConfigError, match="level"):
        load_task(str(bad))
