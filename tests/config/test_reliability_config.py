"""Randomisation checked when a scenario loads, and an env that a failed reset leaves as it was."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from tinysim_gym.config import load_scenario, randomize_variants
from tinysim_gym.envs.env import TinySimEnv
from tinysim_gym.envs.vector_env import TinySimVectorEnv
from tinysim_gym.errors import ConfigError, TinySimError

BASE = {
    "name": "rnd",
    "board": "NUCLEO-L476RG",
    "profile": "usps_tova",
    "workload": {"mode": "async", "min_interval_ms": 2, "arrival_probability": 0.5, "buffer_size": 6},
    "battery": {"capacity_mah": 0.01},
}

# (randomize section, what the one-line error must name)
BAD = [
    ({"workload.arrival_probability": {"range": [0.5, 3.0]}},
     "randomize.workload.arrival_probability range upper end 3.0"),
    ({"workload.arrival_probability": {"range": [-1.0, 0.5]}},
     "randomize.workload.arrival_probability range lower end -1.0"),
    ({"workload.arrival_probability": [0.5, 0.7, 1.5]}, "randomize.workload.arrival_probability choice 3 (1.5)"),
    ({"battery.capacity_mah": {"range": [0.0, 0.1]}}, "randomize.battery.capacity_mah range lower end 0.0"),
    ({"battery.capacity_mah": {"log_range": [0.01, 1e400]}}, "randomize.battery.capacity_mah"),
    ({"battery.initial_soc": [0.5, 2]}, "randomize.battery.initial_soc choice 2 (2)"),
    ({"board": ["NUCLEO-L476RG", "no-such-board"]}, "randomize.board choice 2 ('no-such-board')"),
    ({"profile": ["usps_tova", "nope"]}, "randomize.profile choice 2 ('nope')"),
    ({"workload.min_interval_ms": [2, "fast"]}, "randomize.workload.min_interval_ms choice 2 ('fast')"),
    ({"horizon_ms": {"range": [-5, 100]}}, "randomize.horizon_ms range lower end -5"),
    ({"workload.rate_hz": [100.0, -1.0]}, "randomize.workload.rate_hz choice"),
]


@pytest.mark.parametrize(("randomize", "named"), BAD)
def test_every_choice_and_both_ends_are_checked_at_load(randomize, named):
    with pytest.raises(ConfigError) as info:
        load_scenario({**BASE, "randomize": randomize})
    msg = str(info.value)
    assert "\n" not in msg
    assert named in msg, msg


def test_a_bad_choice_fails_the_env_at_construction_not_at_some_reset():
    """Before: 36 of 50 resets failed, each when it drew the bad value; now the env is never built."""
    with pytest.raises(ConfigError, match="randomize.workload.arrival_probability"):
        TinySimEnv(scenario={**BASE, "randomize": {"workload.arrival_probability": {"range": [0.5, 3.0]}}})


def test_good_ranges_still_load_and_draw():
    sc = load_scenario("usps-random-horizon")
    variants = dict(randomize_variants(sc))
    assert sorted(variants) == [
        "randomize.battery.capacity_mah range lower end 0.05",
        "randomize.battery.capacity_mah range upper end 0.15",
        "randomize.workload.min_interval_ms range lower end 1.5",
        "randomize.workload.min_interval_ms range upper end 3.0",
    ]
    assert variants["randomize.battery.capacity_mah range upper end 0.15"].battery.capacity_mah == 0.15
    env = TinySimEnv(scenario="usps-random-horizon")
    caps = set()
    for seed in range(50):
        env.reset(seed=seed)
        caps.add(env.scenario.battery.capacity_mah)
    assert len(caps) == 50 and all(0.05 <= c <= 0.15 for c in caps)


def test_profile_choices_with_another_model_count_fail_at_construction():
    sc = {**BASE, "randomize": {"profile": ["usps_tova", "mnist_stream_b1"]}}
    n = len(load_scenario({**BASE, "profile": "mnist_stream_b1"}).profile.models)
    if n == len(load_scenario(BASE).profile.models):
        pytest.skip("the two profiles have the same model count")
    with pytest.raises(TinySimError, match="randomize.profile choice 2.*every profile must have"):
        TinySimEnv(scenario=sc)


# ------------------------------------------------------------------ reset(options={"scenario": ...})

BROKEN_SWITCHES = [
    {**BASE, "workload": {"mode": "async", "process": "trace", "trace": "/nonexistent/trace.csv"}},  # no engine
    {**BASE, "horizon_ms": 0.001},  # an engine, but the episode ends before its first decision
    "no-such-scenario",  # does not load
]


@pytest.mark.parametrize("switch", BROKEN_SWITCHES)
def test_a_failed_scenario_switch_leaves_the_env_as_it_was(switch):
    env = TinySimEnv(scenario="usps-l476-async-horizon")
    obs0, _ = env.reset(seed=3)
    with pytest.raises(TinySimError):
        env.reset(seed=3, options={"scenario": switch})
    assert env.scenario.name == "usps-l476-async-horizon" and env.template.name == "usps-l476-async-horizon"
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)  # the failed reset started no episode
    obs1, _ = env.reset(seed=3)  # the next reset runs the scenario the env had, as before
    assert np.array_equal(obs0, obs1)
    _, _, terminated, _, _ = env.step(0)
    assert not terminated


def test_action_masks_before_reset_raise_reset_needed():
    env = TinySimEnv(scenario="usps-l476-async-horizon")
    with pytest.raises(gym.error.ResetNeeded):
        env.action_masks()
    env.reset(seed=0)
    assert env.action_masks().all()
    venv = TinySimVectorEnv(2, scenario="usps-l476-async-horizon")
    with pytest.raises(gym.error.ResetNeeded):
        venv.action_masks()
    venv.reset(seed=0)
    assert venv.action_masks().shape == (2, 10)
