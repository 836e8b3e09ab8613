"""Battery models against their closed forms: the kinetic battery model (KiBaM) and Peukert's law.

The analytic lifetimes are computed here from the models' equations (Lambert W for KiBaM, high-precision
root finding and an ODE integration for the closed form over one run), not with the kernels' functions.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import mpmath
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from baselines.original import FuzzySelector, StaticSelector
from tests.support.closed_form import kibam_lifetime_s
from tinysim_gym.cli.common import dumps
from tinysim_gym.config import load_scenario
from tinysim_gym.core.engine import Engine
from tinysim_gym.core.kibam import kibam_run
from tinysim_gym.errors import ConfigError


def constant_load(current_ma: float, capacity_mah: float, battery: dict[str, Any], timebase_ms: float = 0.01,
                  **board: float) -> Any:
    """A device drawing ``current_ma`` on every tick, busy or idle (one rare sample every 10 s)."""
    currents = {"inference_current_ma": current_ma, "idle_current_ma": current_ma, **board}
    return load_scenario({
        "name": "constant-load",
        "board": currents,
        "profile": {"models": [{"id": 0, "accuracy": 90.0, "latency_ms": 10.0}]},
        "workload": {"mode": "async", "process": "periodic", "min_interval_ms": 10_000.0,
                     "timebase_ms": timebase_ms},
        "battery": {"capacity_mah": capacity_mah, **battery},
    })


def run(sc: Any, seed: int = 1) -> dict[str, Any]:
    return Engine(sc).run(StaticSelector(0), seed=seed)


# ------------------------------------------------------------------------------------------ KiBaM


@pytest.mark.parametrize(("c", "k_per_s", "current_ma"), [
    (0.5, 1e-3, 10.0),
    (0.166, 3.4e-5, 25.0),  # a small available well and a slow valve: a strong rate-capacity effect
    (0.9, 0.1, 5.0),  # a fast valve: close to the ideal battery
])
def test_kibam_constant_current_lifetime_equals_the_analytic_one(c, k_per_s, current_ma):
    cap, tb = 1000.0, 0.01
    sc = constant_load(current_ma, cap, {"model": "kibam", "kibam": {"c": c, "k_per_s": k_per_s}})
    m = run(sc)
    want_ms = kibam_lifetime_s(cap, current_ma, c, k_per_s) * 1000.0
    assert m["end_reason"] == "depleted"
    assert abs(m["operating_time_ms"] - want_ms) <= 1e-9 * want_ms, (m["operating_time_ms"], want_ms)
    # to the tick: every tick whose end the available well reaches runs, the next one does not
    x = want_ms / tb
    assert m["ticks"] == math.floor(x) or abs(x - round(x)) < 1e-3
    # the charge drawn is the current times the operating time; the rest stays bound in the battery
    assert m["energy_mah"] == pytest.approx(current_ma * m["operating_time_ms"] / 3.6e6, rel=1e-12)
    assert m["energy_mah"] < cap


def _h1_closed_form(t: Any, y: Any, delta: Any, d: Any, c: Any, k: Any) -> Any:
    """The available well's height after ``t`` ticks, from the model's equations (works on mpmath numbers)."""
    kp = k / (c * (1 - c))
    eq = d * (1 - c) / k
    gap = eq + (delta - eq) * mpmath.exp(-kp * t)
    return y - d * t - (1 - c) * gap


@pytest.mark.parametrize(("y", "delta", "d", "c", "k"), [
    (1.0, 0.0, 1.1e-9, 0.3, 1.3e-7),  # from rest: the well's height falls throughout
    (0.6, 0.5, 1.7e-9, 0.4, 1.1e-6),  # after a heavy load: the bound well refills the available one first
    (5.0, 0.0, 3.3e-6, 0.5, 1.7e-12),  # a valve so slow that the available well empties almost linearly
])
def test_kibam_run_finds_the_empty_tick_to_machine_precision(y, delta, d, c, k):
    n = 10**13
    _, j = kibam_run(y, delta, d, n, c, k)
    mpmath.mp.dps = 40
    f = lambda t: _h1_closed_form(t, mpmath.mpf(y), mpmath.mpf(delta), mpmath.mpf(d), mpmath.mpf(c),  # noqa: E731
                                  mpmath.mpf(k))
    kp = mpmath.mpf(k) / (c * (1 - c))
    eq = mpmath.mpf(d) * (1 - c) / k
    excess = k * (delta - eq)
    lo = mpmath.log(excess / (d * c)) / kp if excess > d * c else mpmath.mpf(0)  # past the height's maximum
    t_star = mpmath.findroot(f, (lo, mpmath.mpf(n)), solver="illinois")
    assert 0 < j < n
    assert f(j) >= 0 > f(j + 1)  # tick j is the first whose end the available well cannot reach
    assert j == int(mpmath.floor(t_star))


@pytest.mark.parametrize(("delta", "d"), [(0.0, 2e-6), (0.8, 1e-7), (0.3, 0.0)])
def test_kibam_closed_form_equals_the_two_well_ode(delta, d):
    c, k, y, n = 0.35, 2e-5, 2.0, 100_000
    delta_end, j = kibam_run(y, delta, d, n, c, k)
    assert j == -1
    h1 = y - (1 - c) * delta  # y = h1 + (1 - c) (h2 - h1)

    def rhs(_t: float, w: np.ndarray) -> list[float]:
        flow = k * (w[1] / (1 - c) - w[0] / c)
        return [-d + flow, -flow]

    sol = solve_ivp(rhs, (0.0, float(n)), [c * h1, (1 - c) * (h1 + delta)], method="DOP853", rtol=1e-12,
                    atol=1e-15)
    y1, y2 = sol.y[:, -1]
    assert y2 / (1 - c) - y1 / c == pytest.approx(delta_end, rel=1e-8, abs=1e-12)
    assert y1 + y2 == pytest.approx(y - n * d, rel=1e-10)


def _pulsed(inference_ma: float, idle_ma: float, kibam: dict[str, float]) -> dict[str, Any]:
    """Inferences of 30 s every minute at ``inference_ma``, ``idle_ma`` in between, on a 5 mAh KiBaM cell."""
    sc = load_scenario({
        "name": "pulsed",
        "board": {"inference_current_ma": inference_ma, "idle_current_ma": idle_ma},
        "profile": {"models": [{"id": 0, "accuracy": 90.0, "latency_ms": 30_000.0}]},
        "workload": {"mode": "async", "process": "periodic", "min_interval_ms": 60_000.0, "timebase_ms": 0.1},
        "battery": {"capacity_mah": 5.0, "model": "kibam", "kibam": kibam},
    })
    return run(sc)


def test_kibam_shows_the_recovery_and_rate_capacity_effects():
    kibam = {"c": 0.3, "k_per_s": 1e-3}
    pulsed = _pulsed(20.0, 0.0, kibam)  # 20 mA half the time: 10 mA on average
    average = _pulsed(10.0, 10.0, kibam)
    peak = _pulsed(20.0, 20.0, kibam)
    # recovery: the rests let the bound well refill the available one
    assert pulsed["operating_time_ms"] > 1.01 * average["operating_time_ms"]
    assert pulsed["energy_mah"] > 1.3 * peak["energy_mah"]
    # rate capacity: the higher the current, the less charge the battery delivers
    assert peak["energy_mah"] < 0.8 * average["energy_mah"] < 0.8 * 5.0


def test_kibam_with_a_fast_valve_approaches_the_linear_battery():
    linear = run(constant_load(10.0, 1.0, {}))
    fast = run(constant_load(10.0, 1.0, {"model": "kibam", "kibam": {"c": 0.5, "k_per_s": 1e5}}))
    assert fast["operating_time_ms"] == pytest.approx(linear["operating_time_ms"], rel=1e-6)


class StepByStep:
    """A selector offering only ``select``: the engine asks it once per decision (no compiled loop)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def reset(self, view: Engine) -> None:
        if hasattr(self.inner, "reset"):
            self.inner.reset(view)

    def select(self, view: Engine) -> int:
        return self.inner.select(view)


@pytest.mark.parametrize("make", [FuzzySelector, lambda: StaticSelector(3)])
@pytest.mark.parametrize("battery", [
    {"model": "kibam", "kibam": {"c": 0.2, "k_per_s": 0.5}},
    {"model": "peukert", "peukert": {"exponent": 1.25, "rated_current_ma": 20.0}},
])
def test_compiled_paths_equal_the_step_path(make, battery):
    """Every compiled loop (the fuzzy kernel, the fixed-model loops) must implement the battery model."""
    sc = load_scenario("usps-random-horizon", battery={"capacity_mah": 0.05, **battery})
    fast = Engine(sc, chunk=128).run(make(), seed=3)
    slow = Engine(sc, chunk=4096).run(StepByStep(make()), seed=3)
    assert dumps(fast) == dumps(slow)
    linear = Engine(load_scenario("usps-random-horizon", battery={"capacity_mah": 0.05})).run(make(), seed=3)
    assert fast["energy_mah"] != linear["energy_mah"]  # the model is in effect


def test_the_env_runs_a_kinetic_battery():
    from tinysim_gym.envs.env import TinySimEnv

    sc = load_scenario("usps-l476-async-horizon",
                       battery={"capacity_mah": 0.02, "model": "kibam", "kibam": {"c": 0.25, "k_per_s": 0.2}})
    env = TinySimEnv(scenario=sc)
    obs, info = env.reset(seed=0)
    done, actions = False, []
    while not done:
        assert obs in env.observation_space
        actions.append(len(actions) % env.action_space.n)
        obs, _, done, _, info = env.step(actions[-1])
    replay = iter(actions)

    class Replay:
        def select(self, view: Engine) -> int:
            return next(replay)

    assert Engine(sc).run(Replay(), seed=0) == info["episode_metrics"]


# ------------------------------------------------------------------------------------------ Peukert


@pytest.mark.parametrize("current_ma", [2.0, 20.0])
def test_peukert_lifetime_at_two_currents(current_ma):
    exponent, rated, cap = 1.3, 5.0, 10.0
    sc = constant_load(current_ma, cap, {"model": "peukert",
                                         "peukert": {"exponent": exponent, "rated_current_ma": rated}},
                       timebase_ms=0.001)
    m = run(sc)
    want_ms = cap / current_ma * (rated / current_ma) ** (exponent - 1) * 3.6e6
    assert m["end_reason"] == "depleted"
    assert abs(m["operating_time_ms"] - want_ms) <= 1e-9 * want_ms, (m["operating_time_ms"], want_ms)
    x = want_ms / 0.001
    assert m["ticks"] == math.floor(x) or abs(x - round(x)) < 1e-3
    # effective charge: the whole rated capacity is used up, whatever the current
    assert m["energy_mah"] == pytest.approx(cap, rel=1e-9)


def test_peukert_with_exponent_one_is_the_linear_battery():
    linear = run(constant_load(7.0, 1.0, {}))
    ideal = run(constant_load(7.0, 1.0, {"model": "peukert", "peukert": {"exponent": 1.0, "rated_current_ma": 3.0}}))
    assert dumps({**ideal, "scenario": None}) == dumps({**linear, "scenario": None})


# ------------------------------------------------------------------------------------------ linear, config

# sha256 of the metrics JSON before the battery models existed (same scenario, selector and seed)
LINEAR_GOLDEN = {
    "usps-l476-async1": "9e08ba5430d9db9d4fd1da1a27d04d647919ec5f960487c83d4fbe2dd517a645",
    "usps-random-horizon": "06b2053f992abd9a37b3453ddb6fd53dd1efeca35073272399e29ee2e8723c58",
    "solar-l476-async-horizon": "181f4a5899b569cc16e0fd024c0137f3accbd650597a9f29176f13949f4dec4b",
    "async_2": "84c10f6920e7677a4d9aa41cf2efdb2c61dbc4caf12f62f837e2fde82366893a",
}
GOLDEN_SELECTORS = {"usps-l476-async1": lambda: StaticSelector(2), "usps-random-horizon": FuzzySelector,
                    "solar-l476-async-horizon": lambda: StaticSelector(1), "async_2": FuzzySelector}


@pytest.mark.parametrize("name", sorted(LINEAR_GOLDEN))
@pytest.mark.parametrize("explicit", [False, True])
def test_linear_battery_is_bit_identical_to_before(name, explicit):
    battery = {"capacity_mah": 0.5, **({"model": "linear"} if explicit else {})}
    sc = load_scenario(name, battery=battery)
    m = Engine(sc).run(GOLDEN_SELECTORS[name](), seed=7)
    assert m.pop("skipped") == 0  # a key added with the skip action, after the golden hashes were taken
    assert hashlib.sha256(dumps(m).encode()).hexdigest() == LINEAR_GOLDEN[name]


@pytest.mark.parametrize("battery", [
    {"model": "kibam", "kibam": {"c": 0.5, "k_per_s": 1e-3}},
    {"model": "peukert", "peukert": {"exponent": 1.2, "rated_current_ma": 5.0}},
])
def test_seed_compatible_mode_refuses_the_battery_models_in_one_line(battery):
    with pytest.raises(ConfigError) as info:
        load_scenario("sync_1", battery=battery)
    msg = str(info.value)
    assert "\n" not in msg and "battery.model" in msg and "seed_compat" in msg


@pytest.mark.parametrize(("battery", "field"), [
    ({"model": "kibam"}, "kibam"),
    ({"model": "kibam", "kibam": {"c": 0.0, "k_per_s": 1.0}}, "c"),
    ({"model": "kibam", "kibam": {"c": 1.0, "k_per_s": 1.0}}, "c"),
    ({"model": "kibam", "kibam": {"c": 0.5, "k_per_s": 0.0}}, "k_per_s"),
    ({"model": "kibam", "kibam": {"c": 0.5}}, "k_per_s"),
    ({"model": "peukert", "peukert": {"exponent": 0.9, "rated_current_ma": 1.0}}, "exponent"),
    ({"model": "peukert", "peukert": {"exponent": 1.1, "rated_current_ma": -1.0}}, "rated_current_ma"),
    ({"model": "peukert", "kibam": {"c": 0.5, "k_per_s": 1.0}}, "peukert"),
    ({"model": "linear", "kibam": {"c": 0.5, "k_per_s": 1.0}}, "kibam"),
    ({"model": "lead-acid"}, "model"),
])
def test_battery_model_parameters_are_validated(battery, field):
    with pytest.raises(ConfigError) as info:
        load_scenario("usps-l476-async1", battery=battery)
    assert field in str(info.value) and "\n" not in str(info.value)


def test_battery_models_take_a_harvester():  # charging: tests/core/test_battery_harvest.py
    sc = load_scenario("solar-l476-async-horizon", battery={"model": "kibam", "kibam": {"c": 0.5, "k_per_s": 1.0}})
    assert sc.battery.model == "kibam" and sc.harvester is not None
    assert load_scenario("usps-l476-async1").battery.is_linear
