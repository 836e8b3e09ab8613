"""KiBaM and Peukert batteries with a harvester: closed forms and the two-well ODE under a constant harvest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from baselines.original import StaticSelector
from tests.support.closed_form import kibam_lifetime_s
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine

KIBAM = {"model": "kibam", "kibam": {"c": 0.4, "k_per_s": 2e-3}}
PEUKERT = {"model": "peukert", "peukert": {"exponent": 1.25, "rated_current_ma": 2.0}}


def device(battery: dict[str, Any], harvest_ma: float, horizon_ms: float, inference_ma: float = 8.0,
           idle_ma: float = 8.0, period_ms: float = 10_000.0, latency_ms: float = 10.0,
           capacity_mah: float = 0.2, timebase_ms: float = 0.01) -> Any:
    return load_scenario({
        "name": "harvested-battery",
        "board": {"inference_current_ma": inference_ma, "idle_current_ma": idle_ma},
        "profile": {"models": [{"id": 0, "accuracy": 90.0, "latency_ms": latency_ms}]},
        "workload": {"mode": "async", "process": "periodic", "min_interval_ms": period_ms,
                     "timebase_ms": timebase_ms},
        "battery": {"capacity_mah": capacity_mah, **battery},
        "harvester": {"kind": "constant", "current_ma": harvest_ma},
        "horizon_ms": horizon_ms,
    })


def run(sc: Any) -> dict[str, Any]:
    return Engine(sc).run(StaticSelector(0), seed=1)


@pytest.mark.parametrize("harvest_ma", [0.0, 2.0, 6.5])
def test_kibam_under_a_constant_load_and_harvest_lives_as_long_as_under_the_net_current(harvest_ma):
    sc = device(KIBAM, harvest_ma, horizon_ms=1e8)
    m = run(sc)
    want_ms = kibam_lifetime_s(0.2, 8.0 - harvest_ma, 0.4, 2e-3) * 1000.0
    assert m["end_reason"] == "depleted"
    assert m["operating_time_ms"] == pytest.approx(want_ms, abs=sc.workload.timebase_ms)
    assert m["harvested_mah"] == pytest.approx(harvest_ma * m["operating_time_ms"] / 3.6e6, rel=1e-9)


def two_well_lifetime_ms(segments: list[tuple[float, float]], capacity_mah: float, c: float, k_per_s: float) -> float:
    """The KiBaM ODE integrated numerically over ``(duration_s, current_ma)`` segments until ``y1 = 0``."""
    y = np.array([c * capacity_mah, (1 - c) * capacity_mah])
    t0 = 0.0
    for duration, current_ma in segments:
        def rhs(t: float, w: np.ndarray, i: float = current_ma) -> list[float]:
            flow = k_per_s * (w[1] / (1 - c) - w[0] / c)
            return [-i / 3600.0 + flow, -flow]

        def empty(t: float, w: np.ndarray) -> float:
            return w[0]

        empty.terminal = True  # type: ignore[attr-defined]
        sol = solve_ivp(rhs, (t0, t0 + duration), y, events=empty, rtol=1e-12, atol=1e-15)
        if sol.t_events[0].size:
            return float(sol.t_events[0][0]) * 1000.0
        y, t0 = sol.y[:, -1], t0 + duration
    raise AssertionError("the battery outlived the segments")


def test_kibam_with_a_pulsed_load_and_a_harvest_follows_the_two_well_ode():
    # 100 ms at 20 mA at each sample (one a second, from 1 s on), 2 mA otherwise, 1 mA harvested throughout
    sc = device(KIBAM, 1.0, horizon_ms=1e7, inference_ma=20.0, idle_ma=2.0, period_ms=1000.0, latency_ms=100.0,
                capacity_mah=0.02, timebase_ms=0.1)
    m = run(sc)
    segments = [(1.0, 2.0 - 1.0)] + [(0.1, 20.0 - 1.0), (0.9, 2.0 - 1.0)] * 100
    want = two_well_lifetime_ms(segments, 0.02, 0.4, 2e-3)
    assert m["end_reason"] == "depleted" and m["inferences"] >= 10
    assert m["operating_time_ms"] == pytest.approx(want, abs=0.2)


@pytest.mark.parametrize("harvest_ma", [0.0, 1.5])
def test_peukert_with_a_constant_harvest_lives_the_rated_capacity_over_the_net_effective_current(harvest_ma):
    sc = device(PEUKERT, harvest_ma, horizon_ms=1e8)
    m = run(sc)
    effective = 8.0 * (8.0 / 2.0) ** 0.25  # the load's current as it counts against the rated capacity
    want_ms = 0.2 / (effective - harvest_ma) * 3.6e6
    assert m["operating_time_ms"] == pytest.approx(want_ms, abs=sc.workload.timebase_ms)


@pytest.mark.parametrize("battery", [KIBAM, PEUKERT, {}])
def test_a_harvest_above_the_load_fills_the_battery_and_the_rest_spills(battery):
    horizon_ms = 600_000.0
    sc = device({**battery, "initial_soc": 0.5}, 12.0, horizon_ms=horizon_ms)
    m = run(sc)
    assert m["end_reason"] == "horizon" and m["soc_end"] == pytest.approx(1.0)
    harvest = 12.0 * horizon_ms / 3.6e6
    drawn = m["idle_charge_mah"] + m["inference_charge_mah"]
    assert m["harvested_mah"] + m["spilled_mah"] == pytest.approx(harvest, rel=1e-9)
    assert m["harvested_mah"] == pytest.approx(0.1 + drawn, rel=1e-9)  # it filled the missing 0.1 mAh


def test_trace_harvest_equals_the_sum_over_its_ticks():
    """A trace harvester's charge over ``[t0, t1)``: the piecewise-constant current summed tick by tick."""
    from tinysim_gym.core.harvest import H_TRACE, harvest_between

    rng = np.random.default_rng(7)
    times = np.array([3.0, 3.5, 10.0, 17.0, 40.0])  # ticks; a change between ticks counts from its time
    currents = np.array([1.0, 4.0, 0.5, 2.0, 8.0])
    block = np.concatenate(([9.9, H_TRACE, len(times)], times, currents))  # at offset 1, as in PF
    tb = 0.01

    def brute(t0: int, t1: int) -> float:
        grid = np.concatenate(([-np.inf], times, [np.inf]))
        total = 0.0
        for a, b, c in zip(grid[:-1], grid[1:], np.concatenate(([currents[0]], currents)), strict=True):
            lo, hi = max(a, t0), min(b, t1)
            total += max(hi - lo, 0.0) * c
        return total * tb / 3600.0 / 1000.0

    for t0, t1 in [(0, 3), (0, 50), (3, 4), (4, 10), (10, 17), (17, 60), *rng.integers(0, 60, (40, 2)).tolist()]:
        t0, t1 = min(t0, t1), max(t0, t1)
        assert harvest_between(block, 1, t0, t1, tb) == pytest.approx(brute(t0, t1), rel=1e-12, abs=1e-18)
