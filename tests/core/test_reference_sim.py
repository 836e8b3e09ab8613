"""The tick-by-tick oracle on cases small enough to work out by hand.

All cases use timebase 0.25 ms (so tick arithmetic is exact) and idle current 0 where the stop tick must
be predictable: then only inference charges drain the battery, and a capacity of ``(K + 0.5)`` charges
ends the run on the tick right after the ``(K + 1)``-th charge (that tick still runs and is counted).
"""

from __future__ import annotations

import math
import random

import pytest

from tests.support.reference_sim import reference_run

TB = 0.25


def _charge(time_ms: float, current_ma: float) -> float:
    return time_ms / 3600 / 1000 * current_ma


def _run(**kw):
    calls: list[tuple[float, int]] = []
    choice = kw.pop("choice", 0)

    def select(soc_pct: float, q: int) -> int:
        calls.append((soc_pct, q))
        return choice

    base = dict(
        timebase_ms=TB,
        selector_latency_ms=0.0,
        inference_current_ma=36.0,
        idle_current_ma=0.0,
        max_ticks=10_000,
        select=select,
    )
    base.update(kw)
    return reference_run(**base), calls


# ------------------------------------------------------------------ sync


@pytest.mark.parametrize("min_interval", [1.0, 1.125, 1.2, 1.2475])
def test_sync_first_arrival_is_floor_m_plus_one(min_interval):
    # capacity for half an inference: the first arrival empties the battery, the next tick is the last
    lat = 0.5
    q1 = _charge(math.ceil(lat / TB) * TB, 36.0)
    res, calls = _run(
        mode="sync",
        min_interval_ms=min_interval,
        latencies_ms=[lat],
        accuracies=[90.0],
        capacity_mah=0.5 * q1,
    )
    first = math.floor(min_interval / TB) + 1
    assert res["ticks"] == first + 2
    assert res["inferences"] == res["arrivals"] == 1
    assert calls == [(100.0, 0)]
    assert res["operating_time_ms"] == (first + 2) * TB


@pytest.mark.parametrize("n", [1, 2, 5, 17])
def test_sync_exactly_n_periods_fit(n):
    # m = 4: arrivals at ticks 5, 10, 15, ...; capacity for n + 1/2 inferences (ceil(0.3 / 0.25) = 2 ticks)
    lat, sel_lat, idle = 0.2, 0.1, 1e-9
    q1 = _charge(math.ceil((lat + sel_lat) / TB) * TB, 36.0)
    res, calls = _run(
        mode="sync",
        min_interval_ms=1.0,
        latencies_ms=[lat, 0.05],
        selector_latency_ms=sel_lat,
        accuracies=[80.0, 99.0],
        capacity_mah=(n + 0.5) * q1,
        idle_current_ma=idle,
    )
    last_arrival = 5 * (n + 1)
    assert res["ticks"] == last_arrival + 2
    assert res["operating_time_ms"] == pytest.approx((last_arrival + 2) * TB)
    assert res["inferences"] == res["arrivals"] == n + 1
    assert res["model_counts"] == [n + 1, 0]
    assert res["dropped"] == 0 and res["buffered_at_end"] == 0
    assert res["weighted_accuracy"] == pytest.approx(80.0)
    assert res["busy_ticks"] == n + 1
    assert res["idle_ticks"] == res["ticks"] - (n + 1)
    # each arrival tick: ceil-ed inference + min_interval * timebase ms of idle; other ticks: one tick idle
    expected = (n + 1) * (q1 + _charge(1.0 * TB, idle)) + res["idle_ticks"] * _charge(TB, idle)
    assert res["energy_mah"] == pytest.approx(expected, rel=1e-12)
    assert [q for _, q in calls] == [0] * (n + 1)
    cap = (n + 0.5) * q1
    assert calls[0][0] == pytest.approx((cap - 5 * _charge(TB, idle)) / cap * 100, rel=1e-12)  # 5 idle ticks
    # the selector sees the start-of-tick SoC, falling by one inference per period (+ idle)
    socs = [s for s, _ in calls]
    assert all(a > b for a, b in zip(socs, socs[1:], strict=False))


def test_sync_selector_choice_and_initial_soc():
    lat = [0.25, 0.75]
    q_big = _charge(math.ceil(0.75 / TB) * TB, 36.0)
    res, calls = _run(
        mode="sync",
        min_interval_ms=1.0,
        latencies_ms=lat,
        accuracies=[50.0, 70.0],
        capacity_mah=2 * 1.25 * q_big,
        initial_soc=0.5,  # 1.25 big inferences
        choice=1,
    )
    assert calls[0] == (50.0, 0)
    assert res["model_counts"] == [0, 2]
    assert res["ticks"] == 12  # arrivals at 5 and 10, then tick 11
    assert res["weighted_accuracy"] == 70.0


def test_sync_refuses_latency_above_interval():
    with pytest.raises(ValueError):
        _run(
            mode="sync",
            min_interval_ms=1.0,
            latencies_ms=[0.9],
            selector_latency_ms=0.2,
            accuracies=[1.0],
            capacity_mah=1.0,
        )


def test_empty_battery_runs_no_tick():
    res, calls = _run(
        mode="sync",
        min_interval_ms=1.0,
        latencies_ms=[0.5],
        accuracies=[1.0],
        capacity_mah=1.0,
        initial_soc=0.0,
    )
    assert res["ticks"] == 0 and res["inferences"] == 0 and res["weighted_accuracy"] == 0.0 and not calls


def test_max_ticks_is_enforced():
    with pytest.raises(RuntimeError):
        _run(
            mode="sync",
            min_interval_ms=1.0,
            latencies_ms=[0.5],
            accuracies=[1.0],
            capacity_mah=1.0,
            max_ticks=100,
        )


# ------------------------------------------------------------------ async


def test_async_certain_arrivals_queue_builds_up():
    # m = 2: arrivals at ticks 3, 6, 9, ...; service 1.0 ms = 4 ticks (b = 3 after the start tick).
    # By hand: starts at 3 (q 0), 7 (q 0, from buffer), 11 (q 0, from buffer), 15 (arrival on a free
    # tick, q stays 1), 19 (q 1, from buffer). Busy from tick 3 on; K = 17 -> 18th busy tick is tick 20,
    # tick 21 (an arrival, buffered: q = 2) is the last.
    q1 = _charge(TB, 36.0)
    res, calls = _run(
        mode="async",
        min_interval_ms=0.5,
        latencies_ms=[1.0],
        accuracies=[90.0],
        capacity_mah=17.5 * q1,
        arrival_probability=1.0,
    )
    assert [q for _, q in calls] == [0, 0, 0, 1, 1]
    assert res["ticks"] == 22
    assert res["operating_time_ms"] == 22 * TB
    assert res["arrivals"] == 7
    assert res["inferences"] == 5
    assert res["dropped"] == 0
    assert res["buffered_at_end"] == 2
    assert res["busy_ticks"] == 19 and res["idle_ticks"] == 3
    assert res["weighted_accuracy"] == 90.0
    assert res["energy_mah"] == pytest.approx(19 * q1, rel=1e-12)


def test_async_certain_arrivals_with_drops():
    # m = 2, service 2.0 ms = 8 ticks, buffer of 1. By hand: starts at 3, 11, 19 (from buffer) ; drops at
    # 9, 15, 18, 24; tick 27 would serve a fresh arrival but K = 22 makes tick 26 the last (busy 3..26).
    q1 = _charge(TB, 36.0)
    res, calls = _run(
        mode="async",
        min_interval_ms=0.5,
        latencies_ms=[2.0],
        accuracies=[70.0],
        capacity_mah=22.5 * q1,
        arrival_probability=1.0,
        buffer_size=1,
    )
    assert [q for _, q in calls] == [0, 0, 0]
    assert res["ticks"] == 27
    assert res["arrivals"] == 8
    assert res["inferences"] == 3
    assert res["dropped"] == 4
    assert res["buffered_at_end"] == 1
    assert res["busy_ticks"] == 24 and res["idle_ticks"] == 3
    assert res["weighted_accuracy"] == pytest.approx(3 * 70.0 / 7)


def test_async_draws_only_on_eligible_ticks():
    # Python's random seeded with 1 gives u = 0.134, 0.847, 0.764, 0.255, 0.495, 0.449, 0.652, ...
    rng = random.Random(1)
    us = [rng.uniform(0.0, 1.0) for _ in range(7)]
    assert [u > 0.5 for u in us] == [False, True, True, False, False, False, True]
    # m = 2, one-tick service (b = 0): tick 3 draws 0.134 (no), 4 draws 0.847 (arrival), 5 and 6 are not
    # eligible, 7 draws 0.764 (arrival), 10, 11, 12 draw no, 13 draws 0.652 (arrival). Three one-tick
    # charges; a capacity of 2.5 of them makes tick 14 the last.
    q1 = _charge(TB, 36.0)
    res, calls = _run(
        mode="async",
        min_interval_ms=0.5,
        latencies_ms=[0.25],
        accuracies=[60.0],
        capacity_mah=2.5 * q1,
    )
    assert res["ticks"] == 15
    assert res["arrivals"] == res["inferences"] == 3
    assert res["busy_ticks"] == 3 and res["idle_ticks"] == 12
    assert len(calls) == 3


def test_async_selector_index_checked_and_zero_tick_latency_refused():
    with pytest.raises(ValueError):
        _run(
            mode="async",
            min_interval_ms=0.5,
            latencies_ms=[0.25],
            accuracies=[1.0],
            capacity_mah=1.0,
            arrival_probability=1.0,
            choice=1,
        )
    with pytest.raises(ValueError):
        _run(mode="async", min_interval_ms=0.5, latencies_ms=[0.1], accuracies=[1.0], capacity_mah=1.0)
