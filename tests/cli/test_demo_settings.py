"""The demo's own training settings: they load over the scenario's documented ones and build its env."""

from __future__ import annotations

from agents import hyperparams as H
from tinysim_gym.cli.demo import DEMO_HYPERPARAMS, demo_overrides
from tinysim_gym.envs.env import TinySimEnv

SCENARIO = "usps-l476-async-horizon"


def test_demo_settings_merge_over_the_scenario_section() -> None:
    hp, _ = H.load("ppo", SCENARIO, overrides=demo_overrides("ppo", SCENARIO))
    documented, _ = H.load("ppo", SCENARIO)
    # the demo's keys win, the section's action repeat and reward wrapper stay
    assert hp["n_steps"] == 512 and hp["gamma"] == 1.0 and hp["ent_coef"] == 0.0 and hp["eval_freq"] == 10_000
    assert hp["env_kwargs"] == {**documented["env_kwargs"], "max_models": 10, "obs_model_features": True}
    assert hp["env_kwargs"]["decisions_per_step"] == 128
    assert hp["vec_env_wrapper"] == documented["vec_env_wrapper"]


def test_demo_settings_apply_only_to_the_default_run() -> None:
    assert demo_overrides("ppo", SCENARIO) == DEMO_HYPERPARAMS
    assert demo_overrides("a2c", SCENARIO) is None
    assert demo_overrides("ppo", "usps-l476-async1") is None


def test_demo_env_reads_the_per_model_features() -> None:
    hp, _ = H.load("ppo", SCENARIO, overrides=demo_overrides("ppo", SCENARIO))
    plain = TinySimEnv(scenario=SCENARIO, decisions_per_step=128)
    env = TinySimEnv(scenario=SCENARIO, **hp["env_kwargs"])
    # the USPS set has 10 models: ten slots, each with its own features, beyond the plain observation
    assert env.action_space.n == 10
    assert env.observation_space.shape[0] > plain.observation_space.shape[0] + 10
