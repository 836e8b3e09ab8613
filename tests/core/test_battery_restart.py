"""A battery device that runs empty turns off, is refilled by the harvester, boots and runs again."""

from __future__ import annotations

from typing import Any

import pytest

from baselines.original import StaticSelector
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import ConfigError


def scenario(battery: dict[str, Any], harvest_ma: float = 1.0, horizon_ms: float = 4 * 3.6e6,
             workload: dict[str, Any] | None = None) -> Any:
    """A board idling at 2 mA (inference 3 mA for 10 ms) on a 1 mAh battery, a constant harvester."""
    return load_scenario({
        "name": "restart",
        "board": {"inference_current_ma": 3.0, "idle_current_ma": 2.0},
        "profile": {"models": [{"id": 0, "accuracy": 90.0, "latency_ms": 10.0}]},
        "workload": workload or {"mode": "async", "process": "periodic", "min_interval_ms": 1e9, "timebase_ms": 1.0},
        "battery": {"capacity_mah": 1.0, **battery},
        "harvester": {"kind": "constant", "current_ma": harvest_ma},
        "horizon_ms": horizon_ms,
    })


def run(sc: Any, seed: int = 1) -> dict[str, Any]:
    return Engine(sc).run(StaticSelector(0), seed=seed)


def closed_form(r0: float, restart: float, idle: float, harvest: float, boot_ms: float, boot_ma: float,
                horizon_ms: float) -> tuple[int, float, float]:
    """Brown-outs, off time and boot time (ms) of the on / off / boot cycle, in continuous time."""
    t, r, brownouts, off, boot = 0.0, r0, 0, 0.0, 0.0
    while True:
        t += r / (idle - harvest) * 3.6e6  # on: drains at the net current
        if t >= horizon_ms:
            return brownouts, off, boot
        brownouts += 1
        dt = restart / harvest * 3.6e6  # off: the harvester refills it to the restart level
        off += min(dt, horizon_ms - t)
        t += dt
        if t >= horizon_ms:
            return brownouts, off, boot
        b = min(boot_ms, horizon_ms - t)
        boot += b
        t += b
        r = restart - (boot_ma - harvest) * b / 3.6e6


@pytest.mark.parametrize(("boot_ms", "boot_ma"), [(0.0, 0.0), (100.0, 5.0), (60_000.0, 20.0)])
def test_off_and_boot_times_follow_the_cycle_in_closed_form(boot_ms, boot_ma):
    sc = scenario({"initial_soc": 0.5, "restart_soc": 0.5, "boot_ms": boot_ms, "boot_current_ma": boot_ma})
    m = run(sc)
    brownouts, off, boot = closed_form(0.5, 0.5, 2.0, 1.0, boot_ms, boot_ma, sc.horizon_ms)
    assert brownouts >= 3
    assert m["brownouts"] == brownouts
    assert m["off_time_ms"] == pytest.approx(off, abs=2.0 * brownouts)  # whole ticks of 1 ms each cycle
    assert m["boot_time_ms"] == pytest.approx(boot, abs=2.0 * brownouts)
    assert m["boot_charge_mah"] == pytest.approx(boot * boot_ma / 3.6e6, abs=1e-5 * brownouts)
    assert m["end_reason"] == "horizon" and m["operating_time_ms"] == sc.horizon_ms
    # charge balance: what the battery gave is what the board drew (idle, inference, boot)
    drawn = m["idle_charge_mah"] + m["inference_charge_mah"] + m["boot_charge_mah"]
    assert m["energy_mah"] == pytest.approx(drawn, rel=1e-9, abs=1e-12)
    assert m["harvested_mah"] == pytest.approx(1.0 * sc.horizon_ms / 3.6e6, rel=1e-9)  # never full: no spill


def test_without_restart_an_empty_battery_stays_off():
    m = run(scenario({"initial_soc": 0.5}))
    assert m["end_reason"] == "depleted"
    assert "brownouts" not in m and m["operating_time_ms"] == pytest.approx(0.5 / 1.0 * 3.6e6, abs=2.0)


def test_samples_are_conserved_and_those_lost_while_off_are_counted():
    sc = scenario({"initial_soc": 0.3, "restart_soc": 0.2, "boot_ms": 500.0, "boot_current_ma": 4.0},
                  workload={"mode": "async", "process": "poisson", "rate_hz": 2.0, "buffer_size": 3,
                            "timebase_ms": 1.0}, horizon_ms=3 * 3.6e6)
    m = run(sc, seed=7)
    assert m["brownouts"] >= 2 and m["dropped_off"] > 0
    assert m["arrivals"] == m["inferences"] + m["dropped"]
    assert m["dropped"] == m["dropped_overflow"] + m["dropped_off"] + m["dropped_after_end"]
    # lost while off: about the arrival rate times the off and boot time
    expected = 2.0 * (m["off_time_ms"] + m["boot_time_ms"]) / 1000.0
    assert abs(m["dropped_off"] - expected) < 5 * expected**0.5 + 5


def test_a_full_battery_spills_and_restart_needs_a_harvester():
    m = run(scenario({"initial_soc": 0.9, "restart_soc": 0.5}, harvest_ma=3.0, horizon_ms=3.6e6))
    assert m["brownouts"] == 0 and m["spilled_mah"] > 0 and m["soc_end"] == pytest.approx(1.0)
    raw = {"board": "NUCLEO-L476RG", "profile": "usps_tova",
           "workload": {"mode": "async", "min_interval_ms": 2}, "battery": {"capacity_mah": 1, "restart_soc": 0.5}}
    with pytest.raises(ConfigError, match="battery.restart_soc: needs a harvester"):
        load_scenario(raw)
    with pytest.raises(ConfigError, match="boot_ms: a boot cost is given without restart_soc"):
        load_scenario({**raw, "battery": {"capacity_mah": 1, "boot_ms": 5}})
    with pytest.raises(ConfigError, match="seed_compat: the original model has no harvester"):
        load_scenario({**raw, "seed_compat": True, "harvester": {"kind": "constant", "current_ma": 1},
                       "horizon_ms": 10})
