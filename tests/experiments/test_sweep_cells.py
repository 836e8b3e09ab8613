"""The lazy cell grid: the same cells, keys and scenarios as expanding every cell eagerly, at any size."""

from __future__ import annotations

import pytest

import baselines
from tinysim_gym.config import load_scenario
from tinysim_gym.errors import TinySimError
from tinysim_gym.experiments.sweep.cells import cell_key, point_scenario
from tinysim_gym.experiments.sweep.spec import load_sweep

GRID = {
    "scenarios": ["async_1", "usps-l476-async-horizon"],
    "set": {"horizon_ms": 3000},
    "grid": {"battery.capacity_mah": [0.005, 0.01], "workload.min_interval_ms": [3, 4]},
    "policies": ["latency-first", {"name": "random", "params": {"seed": 3}, "label": "random-3"}],
    "seeds": [0, 5],
}


def test_cells_match_an_eager_expansion():
    cells = load_sweep(GRID, registry=baselines).cells
    assert len(cells) == 2 * 2 * 2 * 2 * 2
    eager = []
    for base in GRID["scenarios"]:  # the order the table promises: bases, grid points, policies, seeds
        for cap in (0.005, 0.01):
            for interval in (3, 4):
                sc = load_scenario(base, horizon_ms=3000, battery={"capacity_mah": cap},
                                   workload={"min_interval_ms": interval})
                for label in ("latency-first", "random-3"):
                    for seed in (0, 5):
                        eager.append((sc, label, seed))
    for i, (c, (sc, label, seed)) in enumerate(zip(cells, eager, strict=True)):
        assert (c.index, c.policy.label, c.seed) == (i, label, seed)
        assert c.scenario == sc
        assert c.key == cell_key(sc, c.policy, seed)  # the hash of the canonical JSON, part by part
    assert [c.key for c in cells[-3:]] == [cells[i].key for i in (-3, -2, -1)]
    assert cells[13].key == list(cells)[13].key
    with pytest.raises(IndexError):
        cells[len(cells)]


def test_point_overrides_equal_load_scenario():
    base = load_scenario("usps-l476-async-horizon")
    over = {"battery": {"capacity_mah": 0.02}, "workload": {"min_interval_ms": 4.0}, "horizon_ms": None}
    assert point_scenario(base.model_dump(), over) == load_scenario(base, **over)
    with pytest.raises(TinySimError, match=r"^scenario\.battery\.capacity_mah"):
        point_scenario(base.model_dump(), {"battery": {"capacity_mah": -1.0}})


def test_a_million_cells_expand_without_building_them():
    spec = {"scenario": "usps-l476-async-horizon", "grid": {"battery.capacity_mah": [0.01, 0.02, 0.04, 0.08, 0.16]},
            "policies": ["reference", "fuzzy"], "seeds": 100_000}
    sweep = load_sweep(spec, registry=baselines)
    assert len(sweep.cells) == 1_000_000
    last = sweep.cells[-1]
    assert (last.index, last.seed, last.policy.label) == (999_999, 99_999, "fuzzy")
    assert last.scenario.battery.capacity_mah == 0.16


def test_two_points_that_are_one_scenario_are_rejected():
    spec = {"scenario": "usps-l476-async-horizon", "grid": {"battery.capacity_mah": [1, 1.0]},
            "policies": ["reference"]}
    with pytest.raises(TinySimError, match="same run"):
        load_sweep(spec, registry=baselines)
