"""tinysim train and rl-baselines3-zoo share configs/zoo: the zoo's entries are tinysim train's algorithm
settings, and the zoo's policy_kwargs strings are read as data to what the zoo's own eval makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agents import hyperparams as H
from agents.zoo_format import PROJECT_KEY, entry_id, parse_policy_kwargs
from tinysim_gym.errors import ConfigError

ZOO = Path(__file__).resolve().parents[2] / "configs" / "zoo"
SCENARIOS = ("usps-l476-async-horizon", "solar-l476-async-horizon", "usps-l476-async1", "sync_1")


def _zoo_file(algo):
    with open(ZOO / f"{algo}.yml") as fh:
        return yaml.load(fh, Loader=yaml.UnsafeLoader)  # as the zoo reads it


@pytest.mark.parametrize("algo", list(H.ALGOS))
def test_tinysim_train_takes_the_algorithm_settings_of_the_zoo_entry(algo):
    raw = _zoo_file(algo)
    for scenario in SCENARIOS:
        hp, _ = H.load(algo, scenario)
        section = {**raw[PROJECT_KEY]["default"], **raw[PROJECT_KEY].get(scenario, {})}
        entry = raw[section.get("entry", entry_id(scenario))]
        for key, value in entry.items():
            if key in ("env_kwargs", "policy_kwargs") or key in section:
                continue
            want = H.schedule(value, key) if key in H.SCHEDULE_KEYS else value
            got = H.schedule(hp[key], key) if key in H.SCHEDULE_KEYS else hp[key]
            assert repr(got) == repr(want) if callable(want) else got == pytest.approx(want), (scenario, key)
        # the project's own settings come from the tinysim-train block, not the entry's env_kwargs
        assert hp["env_kwargs"] == section["env_kwargs"] and hp["vec_env_wrapper"] == section["vec_env_wrapper"]


def test_the_horizon_scenario_trains_with_the_horizon_entry():
    hp, _ = H.load("ppo", "usps-l476-async-horizon")
    assert entry_id("usps-l476-async-horizon") == "TinySim-horizon-v0" and entry_id("tiny") == "TinySim-v0"
    assert (hp["n_steps"], hp["gamma"], hp["n_timesteps"]) == (512, 1.0, 600_000)
    assert H.load("ppo", "sync_1")[0]["n_steps"] == 256


@pytest.mark.parametrize("algo", list(H.ALGOS))
def test_policy_kwargs_strings_read_as_the_zoo_evaluates_them(algo):
    from torch import nn  # noqa: F401 - in scope for the zoo's eval

    for env_id, hp in _zoo_file(algo).items():
        if env_id == PROJECT_KEY:
            continue
        zoo = eval(hp["policy_kwargs"])  # what the zoo does with the string
        ours = H.resolve_policy_kwargs(parse_policy_kwargs(hp["policy_kwargs"], env_id))
        assert ours == zoo, env_id


@pytest.mark.parametrize("text", [
    "dict(net_arch=__import__('os').system('true'))", "exec('1')", "dict(**x)", "dict(a=nn.Module)", "dict(",
    "dict(1, a=2)", "[1, 2]",
])  # fmt: skip
def test_policy_kwargs_strings_are_never_evaluated(text):
    with pytest.raises(ConfigError) as err:
        parse_policy_kwargs(text, "x.policy_kwargs")
    assert "\n" not in str(err.value) and str(err.value).startswith("x.policy_kwargs")
