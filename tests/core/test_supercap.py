"""A supercapacitor behind a converter: brown-out and restart, against closed forms and an ODE integration.

The closed forms here are written from the physics (``E = 1/2 C V^2``, a converter taking constant power,
constant leakage and quiescent currents, a harvester's current into the capacitor), not from the kernels.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import pytest
from scipy.integrate import solve_ivp

from baselines.original import StaticSelector
from tinysim_gym.cli.common import dumps
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.errors import ConfigError


def scenario(storage: dict[str, Any], board_ma: float = 10.0, idle_ma: float | None = None,
             converter: dict[str, Any] | None = None, harvest_ma: float | None = None,
             horizon_ms: float | None = None, timebase_ms: float = 0.01, gap_ms: float = 10_000.0) -> Any:
    """A device on a supercapacitor drawing ``board_ma`` (busy) and ``idle_ma`` (idle, default the same)."""
    raw: dict[str, Any] = {
        "name": "supercap",
        "board": {"inference_current_ma": board_ma, "idle_current_ma": board_ma if idle_ma is None else idle_ma},
        "profile": {"models": [{"id": 0, "accuracy": 90.0, "latency_ms": 10.0}]},
        "workload": {"mode": "async", "process": "periodic", "min_interval_ms": gap_ms, "timebase_ms": timebase_ms},
        "storage": {"kind": "supercap", "v_max": 5.0, "v_on": 3.6, "v_off": 2.2, **storage},
    }
    if converter is not None:
        raw["converter"] = converter
    if harvest_ma is not None:
        raw["harvester"] = {"kind": "constant", "current_ma": harvest_ma}
    if horizon_ms is not None:
        raw["horizon_ms"] = horizon_ms
    return load_scenario(raw)


def run(sc: Any, seed: int = 1) -> dict[str, Any]:
    return Engine(sc).run(StaticSelector(0), seed=seed)


def balance(m: dict[str, Any]) -> float:
    """The capacitor's energy balance (mJ): stored change less (harvest - load - losses); 0 when it holds."""
    flows = m["harvested_mj"] - m["load_mj"] - m["converter_loss_mj"] - m["quiescent_mj"] - m["leakage_mj"]
    return m["stored_mj_end"] - m["stored_mj_start"] - flows


def test_discharge_at_constant_power_lasts_half_c_v_squared_over_the_power():
    """No leakage, no quiescent current: ``t = C (V0^2 - V_off^2) / (2 P / eta)``."""
    c, v0, eta, vout, i = 0.5, 4.5, 0.8, 3.0, 10.0
    sc = scenario({"capacitance_f": c, "initial_v": v0}, board_ma=i,
                  converter={"efficiency": eta, "output_v": vout}, timebase_ms=1e-5)
    m = run(sc)
    power_w = vout * i / 1000.0 / eta
    want_ms = c * (v0**2 - 2.2**2) / (2 * power_w) * 1000.0
    assert m["end_reason"] == "depleted" and m["brownouts"] == 1
    assert abs(m["operating_time_ms"] - want_ms) <= 1e-9 * want_ms, (m["operating_time_ms"], want_ms)
    assert m["ticks"] == math.floor(want_ms / 1e-5) or abs(want_ms / 1e-5 - round(want_ms / 1e-5)) < 1e-3
    assert m["storage_v_end"] == pytest.approx(2.2, abs=1e-6)
    assert abs(balance(m)) <= 1e-9 * m["stored_mj_start"]
    # the board's charge, and the converter's loss on top of it
    assert m["load_mj"] == pytest.approx(vout * i * m["operating_time_ms"] / 1000.0, rel=1e-12)
    assert m["converter_loss_mj"] == pytest.approx(m["load_mj"] * (1 / eta - 1), rel=1e-9)


@pytest.mark.parametrize(("leak_ua", "quiescent_ua"), [(50.0, 0.0), (200.0, 300.0)])
def test_discharge_with_leakage_and_quiescent_current(leak_ua, quiescent_ua):
    """``C V dV/dt = -P - J V``: ``t = C [(V0 - V)/J - P/J^2 ln((P + J V0) / (P + J V))]``, with 40 digits."""
    c, v0, i = 0.2, 5.0, 2.0
    sc = scenario({"capacitance_f": c, "initial_v": v0, "leakage_ua": leak_ua}, board_ma=i,
                  converter={"efficiency": 0.9, "quiescent_ua": quiescent_ua, "output_v": 3.3}, timebase_ms=1e-5)
    m = run(sc)
    mpmath.mp.dps = 40
    p = mpmath.mpf(3.3) * mpmath.mpf(i) / 1000 / mpmath.mpf(0.9)  # W
    j = (mpmath.mpf(leak_ua) + mpmath.mpf(quiescent_ua)) / 10**6  # A
    v, vo = mpmath.mpf(2.2), mpmath.mpf(v0)
    want_ms = float(c * ((vo - v) / j - p / j**2 * mpmath.log((p + j * vo) / (p + j * v))) * 1000)
    assert abs(m["operating_time_ms"] - want_ms) <= 1e-9 * want_ms, (m["operating_time_ms"], want_ms)
    assert abs(balance(m)) <= 1e-9 * m["stored_mj_start"]


def test_cold_start_charges_linearly_to_the_restart_voltage_then_boots():
    """Off, the capacitor takes the harvest less the leakage: ``t_on = C v_on / (I_h - I_leak)``."""
    c, i_h, leak_ua = 0.05, 2.0, 100.0
    sc = scenario({"capacitance_f": c, "initial_v": 0.0, "leakage_ua": leak_ua, "boot_ms": 5.0,
                   "boot_current_ma": 4.0}, board_ma=1.0, harvest_ma=i_h, horizon_ms=200_000.0)
    m = run(sc)
    t_on_ms = c * 3.6 / ((i_h - leak_ua / 1000) / 1000) * 1000
    assert m["off_time_ms"] == pytest.approx(math.ceil(t_on_ms / 0.01 - 1e-9) * 0.01, abs=1e-9)
    assert m["boot_time_ms"] == pytest.approx(5.0)
    assert m["boot_charge_mah"] == pytest.approx(5.0 / 3.6e6 * 4.0, rel=1e-12)
    assert m["brownouts"] == 1  # the cold start
    assert m["dropped_off"] > 0 and m["end_reason"] == "horizon"
    assert m["ticks"] == m["busy_ticks"] + m["idle_ticks"] + round((m["off_time_ms"] + m["boot_time_ms"]) / 0.01)
    assert abs(balance(m)) <= 1e-9 * m["harvested_mj"]


def test_charging_while_on_follows_the_ode():
    """Harvest above the load's need: the voltage rises as ``C V dV/dt = -P + (I_h - I_q - I_leak) V``."""
    c, v0, i, i_h, horizon_s = 0.1, 2.5, 1.0, 2.0, 30.0
    conv = {"efficiency": 0.85, "quiescent_ua": 20.0, "output_v": 3.3}
    sc = scenario({"capacitance_f": c, "initial_v": v0, "leakage_ua": 30.0}, board_ma=i, converter=conv,
                  harvest_ma=i_h, horizon_ms=horizon_s * 1000)
    m = run(sc)
    p = 3.3 * i / 1000 / 0.85
    b = (i_h - 0.05) / 1000
    sol = solve_ivp(lambda _t, v: [(-p + b * v[0]) / (c * v[0])], (0.0, horizon_s), [v0], method="DOP853",
                    rtol=1e-12, atol=1e-14)
    assert m["end_reason"] == "horizon" and m["brownouts"] == 0
    assert m["storage_v_end"] == pytest.approx(sol.y[0, -1], rel=1e-9)
    assert abs(balance(m)) <= 1e-9 * m["stored_mj_end"]


def test_a_full_capacitor_holds_v_max_and_spills_the_surplus():
    sc = scenario({"capacitance_f": 0.01, "initial_v": 4.9}, board_ma=0.5, harvest_ma=5.0, horizon_ms=20_000.0)
    m = run(sc)
    assert m["storage_v_end"] == 5.0 and m["spilled_mj"] > 0.0
    assert abs(balance(m)) <= 1e-9 * m["harvested_mj"]


def test_brownouts_and_restarts_conserve_samples_and_energy():
    """Night and day on a small capacitor: the device browns out, restarts, and every sample is counted."""
    raw_storage = {"capacitance_f": 0.02, "initial_v": 4.0, "leakage_ua": 5.0, "boot_ms": 20.0,
                   "boot_current_ma": 5.0}
    sc = load_scenario({
        "name": "solar-supercap",
        "board": {"inference_current_ma": 10.0, "idle_current_ma": 0.2},
        "profile": {"models": [{"id": 0, "accuracy": 90.0, "latency_ms": 50.0},
                               {"id": 1, "accuracy": 80.0, "latency_ms": 10.0}]},
        "workload": {"mode": "async", "process": "poisson", "rate_hz": 2.0, "timebase_ms": 0.1},
        "storage": {"kind": "supercap", "v_max": 5.0, "v_on": 3.5, "v_off": 2.5, **raw_storage},
        "converter": {"efficiency": 0.85, "quiescent_ua": 2.0},
        "harvester": {"kind": "solar", "peak_current_ma": 1.0, "period_ms": 600_000.0},
        "horizon_ms": 3_000_000.0,
    })
    for model in (0, 1):
        m = Engine(sc).run(StaticSelector(model), seed=5)
        assert m["brownouts"] >= 2 and m["off_time_ms"] > 0
        assert m["arrivals"] == m["inferences"] + m["dropped"] + m["buffered_at_end"]
        assert m["dropped"] == m["dropped_overflow"] + m["dropped_after_end"] + m["dropped_off"]
        off_boot = round((m["off_time_ms"] + m["boot_time_ms"]) / 0.1)
        assert m["ticks"] == m["busy_ticks"] + m["idle_ticks"] + off_boot
        assert abs(balance(m)) <= 1e-9 * m["harvested_mj"]
        assert m["energy_mah"] == pytest.approx(m["inference_charge_mah"] + m["idle_charge_mah"]
                                                + m["boot_charge_mah"], rel=1e-12)
        assert 2.5 * (1 - 1e-12) <= m["storage_v_end"] <= 5.0 or m["storage_v_end"] < 3.5
        # the step-by-step path gives the same figures
        e = Engine(sc, chunk=64)
        e.reset(5)
        while e.decision_pending:
            assert 0.0 <= e.soc <= 1.0
            e.step(model)
        assert dumps(e.metrics()) == dumps(m)


def test_supercap_config_is_validated_in_one_line():
    good = {"kind": "supercap", "capacitance_f": 0.1, "v_max": 5.0, "v_on": 3.5, "v_off": 2.5, "initial_v": 4.0}
    base = {"board": "NUCLEO-L476RG", "profile": "usps_tova", "workload": {"min_interval_ms": 3.0}}
    sc = load_scenario({**base, "storage": good})
    assert not sc.plain_battery and load_scenario("usps-l476-async1").plain_battery
    assert load_scenario(sc.model_dump()) == sc  # the derived battery is not dumped
    for storage, field in (({**good, "v_on": 2.0}, "v_off < v_on"), ({**good, "initial_v": 6.0}, "initial_v"),
                           ({**good, "capacitance_f": 0.0}, "capacitance_f")):
        with pytest.raises(ConfigError) as info:
            load_scenario({**base, "storage": storage})
        assert field in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="not both"):
        load_scenario({**base, "storage": good, "battery": {"capacity_mah": 1.0}})
    with pytest.raises(ConfigError, match="converter"):
        load_scenario({**base, "battery": {"capacity_mah": 1.0}, "converter": {"efficiency": 0.9}})
    with pytest.raises(ConfigError) as info:
        load_scenario({**base, "storage": good, "seed_compat": True, "workload": {"min_interval_ms": 3.0}})
    assert "storage" in str(info.value) and "\n" not in str(info.value)


def test_the_env_runs_an_intermittent_device():
    from tinysim_gym.envs.env import TinySimEnv

    sc = load_scenario({
        "name": "supercap-env", "board": "NUCLEO-L476RG", "profile": "usps_tova",
        "workload": {"mode": "async", "process": "poisson", "rate_hz": 20.0},
        "storage": {"kind": "supercap", "capacitance_f": 0.002, "v_max": 5.0, "v_on": 3.6, "v_off": 2.2,
                    "initial_v": 3.0, "boot_ms": 5.0, "boot_current_ma": 3.0},
        "harvester": {"kind": "solar", "peak_current_ma": 2.0, "period_ms": 60_000.0}, "horizon_ms": 120_000.0,
    })
    env = TinySimEnv(scenario=sc)
    obs, info = env.reset(seed=0)
    done, actions = False, []
    while not done:
        assert obs in env.observation_space
        assert info["arrivals"] == info["inferences"] + info["dropped"] + info["queue"] + 1, info
        actions.append(len(actions) % env.action_space.n)
        obs, _, done, _, info = env.step(actions[-1])
    replay = iter(actions)

    class Replay:
        def select(self, view: Engine) -> int:
            return next(replay)

    m = info["episode_metrics"]
    assert m["brownouts"] >= 1 and m["dropped_off"] > 0
    assert Engine(sc).run(Replay(), seed=0) == m
