"""Beyond the original: harvesting, per-model energy, workloads, memory, deadlines, randomisation.

Each feature is checked against a figure computed by hand from the scenario's numbers.
"""

import math

import numpy as np
import pytest

from baselines.original import LatencyFirst, StaticSelector
from tinysim_gym.config import load_scenario, sample_scenario
from tinysim_gym.core.engine import Engine, discharge_mah, run
from tinysim_gym.errors import ConfigError

BASE = {
    "name": "ext",
    "board": "NUCLEO-L476RG",
    "profile": "usps_tova",
    "workload": {"mode": "async", "min_interval_ms": 2.0},
    "battery": {"capacity_mah": 0.01},
}


def scen(**over):
    return load_scenario(BASE, **over)


def test_constant_harvester_that_balances_the_draw_keeps_the_device_alive():
    # sync workload (default mode): each 3.01 ms period is 230 busy ticks and 71 idle ticks with model 0
    sc = scen(workload={"mode": "sync", "min_interval_ms": 3.0}, horizon_ms=20_000.0)
    base = run(sc, StaticSelector(0))
    assert base["end_reason"] == "depleted"  # 0.01 mAh lasts about 1.5 s
    avg_ma = (230 * 10.7 + 71 * 0.00118) / 301
    sc = scen(workload={"mode": "sync", "min_interval_ms": 3.0}, horizon_ms=20_000.0,
              harvester={"kind": "constant", "current_ma": avg_ma})
    m = run(sc, StaticSelector(0))
    assert m["end_reason"] == "horizon" and m["operating_time_ms"] == 20_000.0
    assert m["dropped"] == 0 and m["weighted_accuracy"] == pytest.approx(94.08)
    # the harvest equals the average draw over the horizon
    assert m["harvested_mah"] + m["spilled_mah"] == pytest.approx(discharge_mah(20_000.0, avg_ma), rel=1e-9)
    assert m["energy_mah"] == pytest.approx(m["inference_charge_mah"] + m["idle_charge_mah"], rel=1e-9)


def test_solar_harvest_over_three_days_matches_the_half_sine_integral():
    sc = load_scenario("solar-l476-async-horizon")
    m = run(sc, LatencyFirst(), seed=1)
    h = sc.harvester
    day_ms = h.day_fraction * h.period_ms
    one_day_mah = discharge_mah(day_ms * 2 / math.pi, h.peak_current_ma)  # integral of a half sine
    assert m["harvested_mah"] + m["spilled_mah"] == pytest.approx(3 * one_day_mah, rel=1e-9)


def test_solar_scenario_needs_more_than_a_static_model():
    sc = load_scenario("solar-l476-async-horizon")
    statics = [run(sc, StaticSelector(k), seed=2)["weighted_accuracy"] for k in range(10)]
    best = int(np.argmax(statics))
    # the best static model survives; the next bigger one dies before the horizon
    assert run(sc, StaticSelector(best), seed=2)["end_reason"] == "horizon"
    assert statics[best] < 94.08


def test_per_model_current_and_charge_per_inference():
    profile = {
        "name": "two", "selector_latency_ms": 0.0,
        "models": [
            {"id": "a", "accuracy": 90, "latency_ms": 1.0, "inference_current_ma": 21.4},
            {"id": "b", "accuracy": 80, "latency_ms": 1.0, "charge_per_inference_uah": 0.01},
        ],
    }
    for k, per_inf in ((0, discharge_mah(1.0, 21.4)), (1, 0.01e-3)):
        sc = scen(profile=profile, workload={"mode": "sync", "min_interval_ms": 2.0}, horizon_ms=1000.0,
                  battery={"capacity_mah": 1.0})
        m = run(sc, StaticSelector(k))
        idle = m["idle_ticks"] * discharge_mah(0.01, 0.00118)
        assert m["inferences"] == 1000 // 2.01 + 1 or m["inferences"] == int(1000 / 2.01)
        assert m["inference_charge_mah"] == pytest.approx(m["inferences"] * per_inf, rel=1e-9)
        assert m["energy_mah"] == pytest.approx(m["inferences"] * per_inf + idle, rel=1e-9)


def test_poisson_rate_within_one_percent_over_1e5_arrivals():
    sc = scen(workload={"mode": "async", "process": "poisson", "rate_hz": 500.0, "buffer_size": 50},
              profile="usps_tova", battery={"capacity_mah": 10.0}, horizon_ms=200_000.0)
    m = run(sc, LatencyFirst(), seed=3)
    rate = m["arrivals"] / 200.0
    assert m["arrivals"] > 99_000
    assert abs(rate - 500.0) / 500.0 < 0.01


def test_mmpp_mean_rate_and_burstiness():
    mm = {"rates_hz": [50.0, 800.0], "switch_hz": [20.0, 80.0]}  # state 1 a fifth of the time
    sc = scen(workload={"mode": "async", "process": "mmpp", "mmpp": mm, "buffer_size": 50},
              battery={"capacity_mah": 10.0}, horizon_ms=300_000.0)
    expected = (50 * 80 + 800 * 20) / 100  # 200 Hz stationary mean; the count's sd is about 1.2 %
    m = run(sc, LatencyFirst(), seed=4)
    assert abs(m["arrivals"] / 300.0 - expected) / expected < 0.05
    # bursty: in 10 ms windows the counts vary far more than a Poisson process's (variance = mean)
    e = Engine(sc)
    e.reset(seed=4)
    e.stream.fill(e.arr)
    counts = np.bincount((e.arr[: len(e.arr)] // 1000).astype(int))[:-1]  # 1000 ticks = 10 ms
    assert counts.var() > 3 * counts.mean()


def test_jittered_periodic_mean_gap():
    sc = scen(workload={"mode": "async", "process": "periodic", "min_interval_ms": 5.0, "jitter_ms": 2.0},
              battery={"capacity_mah": 10.0}, horizon_ms=100_000.0)
    m = run(sc, LatencyFirst(), seed=5)
    assert abs(m["arrivals"] - 20_000) <= 1  # samples stay in their 5 ms slots: no drift


def test_trace_workload_replays_the_file(tmp_path):
    trace = tmp_path / "arrivals.csv"
    times = [1.0, 1.5, 2.0, 50.0, 50.0, 80.0]
    trace.write_text("time_ms\n" + "\n".join(str(t) for t in times) + "\n")
    sc = scen(workload={"mode": "async", "process": "trace", "trace": str(trace)})
    m = run(sc, LatencyFirst())
    assert m["arrivals"] == 6 and m["inferences"] == 6 and m["end_reason"] == "workload_end"
    # the second sample waits: model 1 takes 79 ticks (0.786 ms) from 1.0 ms
    assert m["dropped"] == 0


def test_memory_reject_and_mask():
    board = {"name": "tiny", "inference_current_ma": 10.0, "idle_current_ma": 0.001, "ram_kb": 64}
    profile = {"name": "p", "models": [{"id": "small", "accuracy": 80, "latency_ms": 1.0, "ram_kb": 32},
                                       {"id": "big", "accuracy": 95, "latency_ms": 2.0, "ram_kb": 128}]}
    with pytest.raises(ConfigError, match=r"profile.models\[1\].*'big'.*ram_kb"):
        scen(board=board, profile=profile)
    sc = scen(board=board, profile=profile, memory_policy="mask")
    assert list(Engine(sc).available) == [True, False]


def test_deadline_misses_count_zero_accuracy():
    # model 0 takes 229.6 -> 230 ticks = 2.3 ms: a 2 ms deadline is missed by every sample it serves
    sc = scen(deadline_ms=2.0, horizon_ms=2000.0, battery={"capacity_mah": 1.0})
    m = run(sc, StaticSelector(0), seed=1)
    assert m["deadline_misses"] == m["inferences"] > 0
    assert m["weighted_accuracy"] == 0.0
    fast = run(sc, LatencyFirst(), seed=1)  # 0.79 ms, never waits more than one service
    assert fast["deadline_misses"] == 0 and fast["weighted_accuracy"] == pytest.approx(87.5)


def test_seed_compat_rejects_extensions():
    with pytest.raises(ConfigError, match="seed_compat"):
        load_scenario("sync_1", deadline_ms=5.0)
    with pytest.raises(ConfigError, match="harvester"):
        scen(harvester={"kind": "constant", "current_ma": 1.0})  # no horizon


def test_domain_randomisation_samples_from_np_random():
    sc = scen(horizon_ms=1000.0, randomize={"board": ["NUCLEO-L476RG", "STM32L4R9I-DISCO"],
                                            "battery.capacity_mah": {"range": [0.01, 0.02]},
                                            "workload.min_interval_ms": {"log_range": [1.0, 4.0]}})
    seen = set()
    for seed in range(20):
        a = sample_scenario(sc, np.random.default_rng(seed))
        b = sample_scenario(sc, np.random.default_rng(seed))
        assert a == b and not a.randomize
        assert 0.01 <= a.battery.capacity_mah <= 0.02 and 1.0 <= a.workload.min_interval_ms <= 4.0
        seen.add(a.board.name)
    assert seen == {"NUCLEO-L476RG", "STM32L4R9I-DISCO"}
    with pytest.raises(ConfigError, match="randomize.battery.colour"):
        scen(randomize={"battery.colour": [1]})
