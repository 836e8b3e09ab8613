"""The optimal-policy bound: brute force on tiny cases, every baseline below it, LP sanity."""

from __future__ import annotations

import json

import numpy as np
import pytest

import baselines
from baselines import make, run_episode
from tests.support import PUBLISHED
from tests.support.search import open_loop_leaves
from tests.support.tiny_device import TINY_BOARD, TINY_PROFILE
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import TinySimError
from tinysim_gym.optimal.lp import bound, model_costs

TRAINING = ("usps-l476-async-horizon", "usps-l476-async1")



def tiny(mode: str, horizon_ms: float | None, capacity: float, interval: float = 0.06, buffer: int = 2):
    return load_scenario(
        {
            "name": f"tiny-{mode}",
            "board": TINY_BOARD,
            "profile": TINY_PROFILE,
            "workload": {"mode": mode, "min_interval_ms": interval, "buffer_size": buffer},
            "battery": {"capacity_mah": capacity},
            "horizon_ms": horizon_ms,
        }
    )


def pathwise(scenario, run, cache={}):  # noqa: B006 - a deliberate memo: many leaves share a path's figures
    """The pathwise bound depends on a run only through its arrivals and operating ticks."""
    key = (scenario.name, scenario.horizon_ms, scenario.battery.capacity_mah, run["inferences"] + run["dropped"],
           run["ticks"])
    if key not in cache:
        cache[key] = bound(scenario, observed=run).weighted_accuracy
    return cache[key]


def leaves(scenario, seed=0):
    """Metrics of every open-loop action sequence on one arrival path (all policies, for a fixed seed)."""
    return open_loop_leaves(scenario, seed)


# ------------------------------------------------------------------ brute force


def test_sync_horizon_bound_is_exact_against_brute_force():
    # period 7 ticks, horizon 60 ticks: 8 samples; the charge covers about 21 busy ticks of 5 for "big"
    sc = tiny("sync", horizon_ms=0.6, capacity=6e-7)
    b = bound(sc)
    assert b.exact and b.episode == "horizon" and "energy" in b.binding
    runs = leaves(sc)
    assert 1000 < len(runs) <= 3**8  # sequences end early when they drain the battery
    best = max(r["weighted_accuracy"] for r in runs)
    assert best <= b.weighted_accuracy + 1e-9
    one_sample = 90.0 / b.arrivals
    assert b.weighted_accuracy - best <= one_sample  # exact up to rounding one sample


def test_async_horizon_pathwise_bound_against_brute_force():
    sc = tiny("async", horizon_ms=0.5, capacity=5e-7, interval=0.03)
    for seed in (0, 1):
        runs = leaves(sc, seed)
        assert len(runs) > 100
        for r in runs:
            assert r["weighted_accuracy"] <= pathwise(sc, r) + 1e-9
        best = max(runs, key=lambda r: r["weighted_accuracy"])
        # the LP over the same path is close to the best sequence (here within two samples)
        gap = bound(sc, observed=best).weighted_accuracy - best["weighted_accuracy"]
        assert gap <= 2 * 90.0 / (best["inferences"] + best["dropped"])


def test_until_depletion_pathwise_bound_against_brute_force():
    sc = tiny("async", horizon_ms=None, capacity=3e-7, interval=0.03)
    runs = leaves(sc, 0)
    assert len(runs) > 100
    for r in runs:
        assert r["weighted_accuracy"] <= pathwise(sc, r) + 1e-9


def test_until_depletion_fluid_bound_against_static_and_mixed_policies():
    # a longer until-depletion async case: every static model and every periodic two-model pattern
    sc = tiny("async", horizon_ms=None, capacity=2e-4, interval=0.02, buffer=3)
    b = bound(sc)
    assert not b.exact and b.episode == "until-depletion"

    class Pattern:
        def __init__(self, seq):
            self.seq, self.i = seq, 0

        def reset(self, view):
            self.i = 0

        def select(self, view):
            self.i += 1
            return self.seq[(self.i - 1) % len(self.seq)]

    best = 0.0
    for seq in ([0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 1], [0, 2, 2], [1, 1, 2], [0, 0, 2]):
        for seed in (0, 1):
            m = Engine(sc).run(Pattern(seq), seed=seed)
            assert m["weighted_accuracy"] <= b.weighted_accuracy + 1e-9
            assert m["weighted_accuracy"] <= bound(sc, observed=m).weighted_accuracy + 1e-9
            best = max(best, m["weighted_accuracy"])
    assert b.weighted_accuracy - best < 5.0


# ------------------------------------------------------------------ every baseline below the bound


@pytest.mark.parametrize("case", sorted(PUBLISHED))
def test_no_baseline_exceeds_the_bound_on_published_cases(case):
    sc = load_scenario(case)
    b = bound(sc)
    for name in baselines.names():
        m = run_episode(sc, make(name, sc))
        assert m["weighted_accuracy"] <= b.weighted_accuracy + 1e-9, (case, name)
        assert m["weighted_accuracy"] <= bound(sc, observed=m).weighted_accuracy + 1e-9, (case, name)


@pytest.mark.parametrize("scenario", TRAINING)
def test_no_baseline_exceeds_the_bound_on_training_scenarios(scenario):
    sc = load_scenario(scenario)
    b = bound(sc)
    for name in baselines.names():
        for seed in (0, 1):
            m = run_episode(sc, make(name, sc), seed=seed)
            assert m["weighted_accuracy"] <= b.weighted_accuracy, (scenario, name, seed)
            assert m["weighted_accuracy"] <= bound(sc, observed=m).weighted_accuracy + 1e-9, (scenario, name)


# ------------------------------------------------------------------ the LP itself


def test_sync_bound_is_the_most_accurate_model_and_exact():
    b = bound("sync_1")
    assert b.exact and b.weighted_accuracy == pytest.approx(94.08)
    assert b.mixture["0"] == pytest.approx(1.0, abs=1e-4)
    acc_first = run_episode("acc_first", make("accuracy-first"))
    assert acc_first["weighted_accuracy"] == pytest.approx(b.weighted_accuracy)


def test_training_bounds_and_mixtures():
    h = bound("usps-l476-async-horizon")
    assert h.episode == "horizon" and set(h.binding) >= {"energy", "arrivals"}
    used = {k for k, v in h.mixture.items() if v > 1e-3}
    assert used == {"4", "5"}  # the two models around the charge budget per sample
    assert h.weighted_accuracy == pytest.approx(93.0618, abs=1e-3)
    assert h.energy_mah <= 0.1 * (1 + 1e-9)
    u = bound("usps-l476-async1")
    assert u.episode == "until-depletion" and "busy" in u.binding
    assert {k for k, v in u.mixture.items() if v > 1e-3} == {"2", "3"}
    assert u.utilisation == pytest.approx(1.0)
    assert u.weighted_accuracy == pytest.approx(91.5218, abs=1e-3)


def test_lp_solution_is_feasible_in_engine_units():
    for name in (*TRAINING, "async_2", "sync_1"):
        sc = load_scenario(name)
        b = bound(sc)
        costs = model_costs(Engine(sc))
        n = np.array([b.model_counts[k] for k in b.model_counts])
        assert b.inferences <= b.arrivals * (1 + 1e-9)
        assert float(n @ costs.ticks) <= b.ticks * (1 + 1e-9) + 1  # one cut-short sample: one tick
        assert b.energy_mah <= sc.battery.capacity_mah * sc.battery.initial_soc * (1 + 1e-9)


def test_big_battery_is_busy_limited_not_energy_limited():
    # 100 mAh over 2 s: energy never binds; the busy time does (async, interval 2 ms)
    sc = load_scenario("async_2", battery={"capacity_mah": 100.0}, horizon_ms=2000.0, seed_compat=False)
    b = bound(sc)
    assert "energy" not in b.binding and "busy" in b.binding
    assert b.weighted_accuracy == pytest.approx(bound("async_2").weighted_accuracy, abs=0.05)


def test_to_dict_is_json_and_row_is_last_compare_row_shape():
    b = bound("usps-l476-async-horizon")
    d = json.loads(json.dumps(b.to_dict()))
    assert {"weighted_accuracy", "mixture"} <= set(d)
    assert abs(sum(d["mixture"].values()) + d["dropped_fraction"] - 1.0) < 1e-9
    row = b.as_row()
    assert row["policy"] == "bound"
    assert {"weighted_accuracy", "operating_time_ms", "inferences", "dropped", "energy_mah"} <= set(row)


def test_trace_workload_needs_an_observed_run():
    with pytest.raises(TinySimError, match="pathwise"):
        from tinysim_gym.optimal.lp import mean_gap_ticks

        class W:
            process = "trace"
            mode = "async"

            def mean_gap_ms(self):
                return None

        class S:
            workload = W()

        mean_gap_ticks(S())
