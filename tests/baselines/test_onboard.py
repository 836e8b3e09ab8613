"""The on-device heuristics in C decide exactly as the Python heuristics, decision by decision."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from baselines.onboard import decisions, heuristic_form
from tests.support.export_policies import SHORT_ENV
from tinysim_gym.config import load_scenario
from tinysim_gym.envs.settings import EnvSettings, split_kwargs
from tinysim_gym.errors import TinySimError
from tinysim_gym.export import bundle
from tinysim_gym.export.observation import ObsSpec
from tinysim_gym.export.verify import HostBuild

SCENARIO = load_scenario(SHORT_ENV["scenario"], horizon_ms=SHORT_ENV["horizon_ms"], battery=SHORT_ENV["battery"])


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the host gcc")
@pytest.mark.parametrize(("name", "params"), [("fuzzy", {}), ("ladder", {}), ("budget", {}), ("queue-greedy", {}),
                                              ("budget", {"mix": False})])
def test_c_heuristic_decides_as_python(name: str, params: dict[str, bool], tmp_path: Path) -> None:
    spec = ObsSpec.of(EnvSettings(split_kwargs(SHORT_ENV, {})))
    policy = heuristic_form(name, SCENARIO, **params)
    bundle.write(bundle.build(policy, spec, 10, {"policy": name}), tmp_path)
    records, actions = decisions(name, SCENARIO, range(2), **params)
    hb = HostBuild(tmp_path, heuristic=True)
    try:
        c = hb.decide(records)
    finally:
        hb.close()
    assert len(actions) > 3000
    assert np.array_equal(c, actions)
    if name != "queue-greedy":  # it only switches when the buffer fills, which this workload rarely does
        assert len(np.unique(actions[actions >= 0])) >= 2


def test_heuristics_without_a_device_form_are_refused() -> None:
    with pytest.raises(TinySimError, match="no on-device form"):
        heuristic_form("random", SCENARIO)
