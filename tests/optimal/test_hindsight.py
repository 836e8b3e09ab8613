"""The hindsight bound: brute force over every action sequence on one seed's realised trace."""

from __future__ import annotations

import numpy as np
import pytest

import baselines
from tests.support.search import open_loop_leaves
from tests.support.tiny_device import TINY_BOARD, TINY_PROFILE
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.optimal.hindsight import hindsight, hindsight_seed, realised_arrivals


def tiny(horizon_ms=0.3, capacity=1.0, interval=0.02, p=0.5, buffer=2, deadline_ms=None, skip_ms=None):
    """``skip_ms``: allow the skip, with that selector latency (added to every model's latency too)."""
    extra = {} if skip_ms is None else {"allow_skip": True, "profile": {**TINY_PROFILE, "selector_latency_ms": skip_ms}}
    return load_scenario({
        "name": "tiny-hindsight", "board": TINY_BOARD, "profile": TINY_PROFILE,
        "workload": {"mode": "async", "min_interval_ms": interval, "arrival_probability": p, "buffer_size": buffer},
        "battery": {"capacity_mah": capacity}, "horizon_ms": horizon_ms, "deadline_ms": deadline_ms, **extra,
    })


def best_sequence(scenario, seed):
    """The best weighted accuracy of any action sequence on the seed's arrival path (exhaustive)."""
    return max(m["weighted_accuracy"] for m in open_loop_leaves(scenario, seed))


def test_realised_arrivals_are_the_engine_stream():
    sc = tiny(horizon_ms=2.0)
    arr = realised_arrivals(sc, 3)
    m = Engine(sc).run(baselines.make("latency-first", sc), seed=3)
    assert len(arr) == m["arrivals"] and (arr < Engine(sc).horizon_ticks).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("interval", [0.01, 0.02])
def test_hindsight_equals_brute_force_when_charge_is_ample(seed, interval):
    sc = tiny(interval=interval, horizon_ms=0.25)
    assert hindsight_seed(sc, seed) == pytest.approx(best_sequence(sc, seed), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("deadline_ms", [None, 0.06])
def test_hindsight_bounds_brute_force_with_a_small_battery(seed, deadline_ms):
    # about 15 busy ticks of "big" in the battery for 7-10 samples: the charge binds
    sc = tiny(horizon_ms=0.3, capacity=4.5e-7, interval=0.02, deadline_ms=deadline_ms)
    h, brute = hindsight_seed(sc, seed), best_sequence(sc, seed)
    n = len(realised_arrivals(sc, seed))
    assert brute <= h + 1e-9
    assert h - brute <= 90.0 / n  # the Lagrangian relaxation loses at most about one sample here


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("deadline_ms", [0.03, 0.06])
def test_hindsight_with_deadlines_equals_brute_force(seed, deadline_ms):
    """The FIFO states are exact: the optimum over every action sequence, not the occupancy relaxation."""
    sc = tiny(horizon_ms=0.25, interval=0.01, deadline_ms=deadline_ms)
    brute = best_sequence(sc, seed)
    assert hindsight_seed(sc, seed) == pytest.approx(brute, abs=1e-9)
    assert brute <= hindsight_seed(sc, seed, max_states=0) + 1e-9  # the relaxation still bounds it


def test_the_fifo_states_tighten_the_occupancy_relaxation():
    """Drop-tail keeps the old samples: crediting the youngest ones overstates the value under a deadline."""
    sc = tiny(horizon_ms=0.3, interval=0.01, p=0.7, buffer=2, deadline_ms=0.06)
    brute = best_sequence(sc, 1)
    assert hindsight_seed(sc, 1) == pytest.approx(brute, abs=1e-9)
    assert hindsight_seed(sc, 1, max_states=0) > brute + 0.5


def test_past_max_states_the_relaxation_answers():
    sc = tiny(horizon_ms=0.25, interval=0.01, deadline_ms=0.06)
    assert hindsight_seed(sc, 0, max_states=2) == hindsight_seed(sc, 0, max_states=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("skip_ms", [0.0, 0.01])
def test_hindsight_with_a_skip_equals_brute_force(seed, skip_ms):
    """A skip of 0 or 1 tick: exact without a deadline and, with the FIFO states, with one."""
    sc = tiny(interval=0.01, horizon_ms=0.2, skip_ms=skip_ms)
    assert hindsight_seed(sc, seed) == pytest.approx(best_sequence(sc, seed), abs=1e-9)
    sc = tiny(interval=0.01, horizon_ms=0.2, skip_ms=skip_ms, deadline_ms=0.04)
    assert hindsight_seed(sc, seed) == pytest.approx(best_sequence(sc, seed), abs=1e-9)


def test_without_a_skip_no_sample_is_discarded_for_free():
    """Models of 3 and 5 ticks, a 3-tick deadline: a stale sample still costs an inference without a skip."""
    slow = {"name": "slow2", "models": [dict(TINY_PROFILE["models"][0]), {"id": "mid", "accuracy": 80.0,
                                                                          "latency_ms": 0.03}]}
    raw = tiny(horizon_ms=0.25, interval=0.01, deadline_ms=0.03).model_dump(mode="json") | {"profile": slow}
    sc, free = load_scenario(raw), load_scenario(raw | {"allow_skip": True})
    for seed in (0, 1):
        assert hindsight_seed(sc, seed) == pytest.approx(best_sequence(sc, seed), abs=1e-9)
        assert hindsight_seed(sc, seed) + 5.0 < hindsight_seed(free, seed)  # a free skip serves more in time


def test_no_heuristic_exceeds_the_hindsight_bound_on_its_seed():
    sc = load_scenario("usps-l476-async-horizon", horizon_ms=5000.0, battery={"capacity_mah": 0.01})
    for seed in (0, 1):
        h = hindsight_seed(sc, seed)
        for name in baselines.names():
            m = baselines.run_episode(sc, baselines.make(name, sc), seed=seed)
            assert m["weighted_accuracy"] <= h + 1e-9, (name, seed)


def test_until_depletion_has_no_hindsight_bound():
    assert hindsight("usps-l476-async1", [0]) is None
    assert np.isfinite(hindsight(tiny(), [0, 1]))
